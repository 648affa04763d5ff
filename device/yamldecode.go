package device

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// decode stores n in v, as go.yaml.in/yaml/v3's strict decoder
// (KnownFields) would for the CDI spec types: struct fields by their yaml
// tag, strings from any scalar, integers only from plain ones, and null
// as the zero value. An unknown or repeated field is an error.
func decode(n *ynode, v reflect.Value) error {
	if n.isNull() {
		v.SetZero()
		return nil
	}
	bad := func(want string) error {
		what := map[ykind]string{yscalar: "a value", ymapping: "a mapping", ysequence: "a sequence"}[n.kind]
		if n.kind == yscalar {
			what = strconv.Quote(n.value)
		}
		return &yamlError{n.line, fmt.Sprintf("%s where %s was expected", what, want)}
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return decode(n, v.Elem())
	case reflect.Struct:
		if n.kind != ymapping {
			return bad("a mapping")
		}
		for i, k := range n.keys {
			f, ok := fieldByTag(v, k.value)
			if !ok {
				return &yamlError{k.line, fmt.Sprintf("unknown field %q in %s", k.value, v.Type().Name())}
			}
			if err := decode(n.vals[i], f); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.kind != ymapping {
			return bad("a mapping")
		}
		v.Set(reflect.MakeMapWithSize(v.Type(), len(n.keys)))
		for i, k := range n.keys {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := decode(n.vals[i], e); err != nil {
				return err
			}
			v.SetMapIndex(reflect.ValueOf(k.value), e)
		}
	case reflect.Slice:
		if n.kind != ysequence {
			return bad("a sequence")
		}
		s := reflect.MakeSlice(v.Type(), len(n.vals), len(n.vals))
		for i, item := range n.vals {
			if err := decode(item, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.String:
		if n.kind != yscalar {
			return bad("a string")
		}
		v.SetString(n.value)
	case reflect.Bool:
		b, ok := map[string]bool{"true": true, "True": true, "TRUE": true, "false": false, "False": false, "FALSE": false}[n.value]
		if n.kind != yscalar || n.quoted || !ok {
			return bad("true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := yamlInt(n)
		if err != nil || v.OverflowInt(i) {
			return bad("an integer of " + v.Type().Name())
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, err := yamlInt(n)
		if err != nil || i < 0 || v.OverflowUint(uint64(i)) {
			return bad("an integer of " + v.Type().Name())
		}
		v.SetUint(uint64(i))
	default:
		return fmt.Errorf("decoding YAML into %s is not implemented", v.Type())
	}
	return nil
}

// yamlInt reads a plain integer as YAML 1.2 and yaml/v3 do: decimal, 0x,
// 0o, 0b, and 0777 as octal; underscores are ignored.
func yamlInt(n *ynode) (int64, error) {
	if n.kind != yscalar || n.quoted {
		return 0, strconv.ErrSyntax
	}
	s := strings.ReplaceAll(n.value, "_", "")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	if len(s) > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9' {
		s = "0o" + s[1:]
	}
	i, err := strconv.ParseInt(s, 0, 64)
	if neg {
		i = -i
	}
	return i, err
}

// fieldByTag returns the field of struct v whose yaml tag names key.
func fieldByTag(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}
