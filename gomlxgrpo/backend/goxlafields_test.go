package backend

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
)

// TestGoXLAFieldPaths: every unexported go-xla field path that FieldPtr reads (here and in the cuda
// package, whose uses run only on a GPU) exists in the pinned go-xla with a pointer at each step
// but the last, so a go-xla upgrade that moves one fails on the CPU; FieldPtr itself reads a field
// of a real value and names the nil pointer or the missing field it meets.
func TestGoXLAFieldPaths(t *testing.T) {
	for _, c := range []struct {
		root any
		path []string
	}{
		{&xla.Backend{}, []string{"client"}},  // pjrtstats.go
		{&pjrt.Device{}, []string{"cDevice"}}, // pjrtstats.go
		{&pjrt.Device{}, []string{"plugin", "api"}},
		{&xla.Buffer{}, []string{"pjrtBuffer"}},    // cuda/devptr.go
		{&pjrt.Buffer{}, []string{"wrapper", "c"}}, // cuda/ready.go
		{&pjrt.Buffer{}, []string{"wrapper", "plugin", "api"}},
	} {
		ty := reflect.TypeOf(c.root)
		for i, name := range c.path {
			if ty.Kind() != reflect.Pointer || ty.Elem().Kind() != reflect.Struct {
				t.Fatalf("%T.%s: step %d is %s, not a pointer to a struct", c.root, strings.Join(c.path, "."), i, ty)
			}
			f, ok := ty.Elem().FieldByName(name)
			if !ok {
				t.Fatalf("%T.%s: %s has no field %s", c.root, strings.Join(c.path, "."), ty.Elem(), name)
			}
			ty = f.Type
		}
	}
	if p, err := FieldPtr(&xla.Backend{}, "client"); err != nil || p == nil {
		t.Fatalf("FieldPtr(Backend, client) = %v, %v", p, err)
	}
	if _, err := FieldPtr(&pjrt.Buffer{}, "wrapper", "c"); err == nil || !strings.Contains(err.Error(), "wrapper is nil") {
		t.Fatalf("a nil step: error %v, want one naming the nil wrapper", err)
	}
	if _, err := FieldPtr(&xla.Backend{}, "noSuchField"); err == nil || !strings.Contains(err.Error(), "no field noSuchField") {
		t.Fatalf("a missing field: error %v", err)
	}
}
