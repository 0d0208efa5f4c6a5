package config

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// TestCloneIsDeep fills every field of a Config, at every depth, with
// non-zero values by reflection, clones it, changes every value reachable
// in the clone and checks that the original did not change. A slice, map
// or pointer field that Clone forgets to copy fails it, new fields
// included.
func TestCloneIsDeep(t *testing.T) {
	var orig, want Config
	fillAll(t, reflect.ValueOf(&orig).Elem(), 1)
	fillAll(t, reflect.ValueOf(&want).Elem(), 1)
	all := cmp.Exporter(func(reflect.Type) bool { return true })

	c := orig.Clone()
	if d := cmp.Diff(&orig, c, all); d != "" {
		t.Fatalf("clone differs from the original (-orig +clone):\n%s", d)
	}
	fillAll(t, reflect.ValueOf(c).Elem(), 2)
	if cmp.Equal(&want, c, all) {
		t.Fatal("mutating the clone changed nothing; the test is broken")
	}
	if d := cmp.Diff(&want, &orig, all); d != "" {
		t.Errorf("mutating the clone changed the original (-want +got):\n%s", d)
	}
}

func TestCloneNil(t *testing.T) {
	var c *Config
	if c.Clone() != nil {
		t.Error("nil Clone is not nil")
	}
	e := (&Config{}).Clone()
	if e.Listeners != nil || e.TargetGroups != nil || e.AccessLog != nil {
		t.Errorf("empty Config's clone grew fields: %+v", e)
	}
}

// fillAll sets every value reachable from v to one derived from seed:
// scalars to seed, slices to two elements, maps to two entries, pointers
// to a new value, each filled in turn. Unexported fields are set through
// unsafe, so that they are covered too.
func fillAll(t *testing.T, v reflect.Value, seed int) {
	t.Helper()
	var fill func(v reflect.Value, depth int)
	fill = func(v reflect.Value, depth int) {
		if depth > 20 {
			t.Fatalf("type %s nests too deep", v.Type())
		}
		if !v.CanSet() {
			v = reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
		}
		switch v.Kind() {
		case reflect.String:
			v.SetString(string(rune('a' + seed)))
		case reflect.Bool:
			v.SetBool(seed%2 == 1)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v.SetInt(int64(seed))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			v.SetUint(uint64(seed))
		case reflect.Float32, reflect.Float64:
			v.SetFloat(float64(seed))
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i), depth+1)
			}
		case reflect.Array:
			for i := range v.Len() {
				fill(v.Index(i), depth+1)
			}
		case reflect.Pointer:
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			fill(v.Elem(), depth+1)
		case reflect.Slice:
			if v.IsNil() {
				v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			}
			for i := range v.Len() {
				fill(v.Index(i), depth+1)
			}
		case reflect.Map:
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
				for i := range 2 {
					k := reflect.New(v.Type().Key()).Elem()
					fillAll(t, k, i+10)
					v.SetMapIndex(k, reflect.Zero(v.Type().Elem()))
				}
			}
			for _, k := range v.MapKeys() {
				e := reflect.New(v.Type().Elem()).Elem()
				e.Set(v.MapIndex(k))
				fill(e, depth+1)
				v.SetMapIndex(k, e)
			}
		default:
			t.Fatalf("fillAll: no rule for %s (%s); teach it and Clone", v.Type(), v.Kind())
		}
	}
	fill(v, 0)
}
