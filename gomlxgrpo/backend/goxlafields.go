package backend

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"
)

// FieldPtr returns the address of the field that path names, starting at v (a pointer to a go-xla
// struct) and following each field but the last, a non-nil pointer, to the next struct.
//
// Why: go-xla v0.4.4 keeps in unexported fields the PJRT handles that this project's own PJRT C
// calls need — a device and the plugin's API for the allocator statistics (pjrtstats.go), a buffer
// for its device address and its ready event (the cuda package) — so they are read with reflect and
// unsafe at that pinned version. TestGoXLAFieldPaths checks every path used against its types.
func FieldPtr(v any, path ...string) (unsafe.Pointer, error) {
	if len(path) == 0 {
		return nil, fmt.Errorf("backend: FieldPtr needs a field path")
	}
	rv := reflect.ValueOf(v)
	for i, name := range path {
		if rv.Kind() != reflect.Pointer || rv.IsNil() {
			return nil, fmt.Errorf("backend: go-xla's %s is nil or not a pointer", strings.Join(append([]string{fmt.Sprintf("%T", v)}, path[:i]...), "."))
		}
		rv = rv.Elem()
		if rv.Kind() != reflect.Struct {
			return nil, fmt.Errorf("backend: go-xla's %s is not a struct (a go-xla version other than v0.4.4?)", rv.Type())
		}
		if rv = rv.FieldByName(name); !rv.IsValid() {
			return nil, fmt.Errorf("backend: go-xla's %s has no field %s (a go-xla version other than v0.4.4?)", reflect.ValueOf(v).Type(), strings.Join(path[:i+1], "."))
		}
	}
	return unsafe.Pointer(rv.UnsafeAddr()), nil
}
