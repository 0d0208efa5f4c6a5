module github.com/fulcrumlb/fulcrum

go 1.26

require (
	github.com/google/go-cmp v0.7.0
	go.yaml.in/yaml/v3 v3.0.6
)

require go.uber.org/goleak v1.3.0
