#!/usr/bin/env bash
# Measures `fulcrum analyze` against GoAccess (--log-format=AWSALB) on the
# same generated ALB log, on the same machine, in one run: MB/s, lines/s
# and peak RSS. A second, smaller file shows that memory stays flat as the
# input grows (docs/analyze.md).
#
#   bash bench/analyze-speed.sh              # 2 GiB and 256 MiB logs
#   SIZE=$((4<<30)) bash bench/analyze-speed.sh
#
# Installs goaccess from Debian when missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
size="${SIZE:-$((2<<30))}"
small="${SMALL:-$((256<<20))}"
dir="${OUT:-bench/results/analyze-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$dir" bin
command -v goaccess >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq goaccess >/dev/null; }
[ -x /usr/bin/time ] || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq time >/dev/null; }
go build -o bin/fulcrum ./cmd/fulcrum
go build -o bin/genalb ./bench/genalb

measure() { # name file command...
  local name=$1 file=$2; shift 2
  local bytes lines
  bytes=$(stat -c %s "$file"); lines=$(wc -l < "$file")
  cat "$file" > /dev/null # same page-cache state for both tools
  /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" > /dev/null 2>&1
  read -r secs kb < "$dir/time.txt"
  awk -v n="$name" -v f="$(basename "$file")" -v b="$bytes" -v l="$lines" -v s="$secs" -v kb="$kb" \
    'BEGIN { printf "| %s | %s | %.0f | %d | %.2f | %.0f | %.0f | %.0f |\n", n, f, b/1048576, l, s, b/1048576/s, l/s, kb/1024 }'
}

for sz in "$small" "$size"; do
  f="$dir/alb-$sz.log"
  [ -f "$f" ] || bin/genalb -size "$sz" -out "$f"
done
{
  echo "| tool | file | MiB | lines | seconds | MiB/s | lines/s | peak RSS MiB |"
  echo "|---|---|---|---|---|---|---|---|"
  for sz in "$small" "$size"; do
    f="$dir/alb-$sz.log"
    measure "goaccess $(goaccess --version | head -1 | awk '{print $3}')" "$f" goaccess "$f" --log-format=AWSALB -o "$dir/goaccess.json"
    measure "fulcrum analyze" "$f" bin/fulcrum analyze --format alb -o json --out "$dir/fulcrum.json" "$f"
  done
} | tee "$dir/summary.md"
rm -f "$dir"/alb-*.log
