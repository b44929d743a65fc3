package cbraintest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// writeJSON renders like Rails' render json: compact, no trailing newline,
// "application/json; charset=utf-8". encoding/json escapes <, > and & as
// \u003c..., which is also what ActiveSupport does by default.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"emulator JSON encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func (c *call) json(status int, v any) { writeJSON(c.w, status, v) }

// head is Rails' `head status`: an empty body; the Content-Type follows
// the request format.
func (c *call) head(status int) {
	switch c.format {
	case "json":
		c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	case "html":
		c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	case "xml":
		c.w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	}
	c.w.WriteHeader(status)
}

// redirect is Rails' redirect_to: 302 with an absolute Location and the
// small HTML body Rails always writes.
func (c *call) redirect(path string) {
	loc := c.s.url + path
	c.w.Header().Set("Location", loc)
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.WriteHeader(http.StatusFound)
	fmt.Fprintf(c.w, "<html><body>You are being <a href=\"%s\">redirected</a>.</body></html>", loc)
}

// notFound is exception_helpers.rb#record_not_found (§7): note the id is a
// string.
func (c *call) notFound(model string, id any) {
	c.json(http.StatusNotFound, struct {
		Error   string `json:"error"`
		Message string `json:"message"`
		Type    string `json:"type"`
		Model   string `json:"model"`
		ID      any    `json:"id"`
	}{fmt.Sprintf("The %s with id = %s doesn't exist", model, rubyInspect(id)),
		"The object you requested does not exist or is not accessible to you.", "object not found", model, id})
}

// rubyInspect renders an id like Ruby's to_s (arrays as ["1", "2"]).
func rubyInspect(id any) string {
	switch v := id.(type) {
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}

// cbError is cb_error: 400 {"error": msg}.
func (c *call) cbError(msg string) { c.json(http.StatusBadRequest, map[string]any{"error": msg}) }

// cbNotice is cb_notice / CbrainNotice: HTTP 200 {"error": msg} (§7).
func (c *call) cbNotice(msg string) { c.json(http.StatusOK, map[string]any{"error": msg}) }

// railsTime formats a timestamp as Rails 5 JSON does.
func railsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ---- params ----

// parseParams merges the query string and the body (form, multipart or
// JSON) into Rails-style flat keys: JSON {"userfile":{"name":"x"}} becomes
// "userfile[name]", arrays become "key[]". JSON is not wrapped (§0).
func (c *call) parseParams() error {
	c.p = url.Values{}
	c.nulls = map[string]bool{}
	for k, v := range c.r.URL.Query() {
		c.p[k] = append(c.p[k], v...)
	}
	if c.r.Body == nil || c.r.Method == http.MethodGet || c.r.Method == http.MethodHead {
		return nil
	}
	ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		body, err := io.ReadAll(io.LimitReader(c.r.Body, 64<<20))
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			// Rails: ActionDispatch::ParamsParser::ParseError -> 400.
			return errors.New("There was an error parsing the JSON body: " + err.Error())
		}
		if m, ok := v.(map[string]any); ok {
			c.flatten("", m)
		}
	case "application/x-www-form-urlencoded":
		body, err := io.ReadAll(io.LimitReader(c.r.Body, 64<<20))
		if err != nil {
			return err
		}
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return err
		}
		for k, v := range q {
			c.p[k] = append(c.p[k], v...)
		}
	case "multipart/form-data":
		if err := c.r.ParseMultipartForm(32 << 20); err != nil {
			return err
		}
		for k, v := range c.r.MultipartForm.Value {
			c.p[k] = append(c.p[k], v...)
		}
	}
	return nil
}

func (c *call) flatten(prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			key := k
			if prefix != "" {
				key = prefix + "[" + k + "]"
			}
			c.flatten(key, vv)
		}
	case []any:
		if len(x) == 0 {
			c.p[prefix+"[]"] = append(c.p[prefix+"[]"], []string{}...)
		}
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				c.flatten(prefix+"[]", m)
				continue
			}
			c.p.Add(prefix+"[]", scalarString(e))
		}
	case nil:
		c.p.Add(prefix, "")
		c.nulls[prefix] = true
	default:
		c.p.Add(prefix, scalarString(x))
	}
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// get returns a scalar param ("" if absent).
func (c *call) get(key string) string { return c.p.Get(key) }

// has reports whether a param key (scalar, array or hash) was sent.
func (c *call) has(key string) bool {
	if _, ok := c.p[key]; ok {
		return true
	}
	if _, ok := c.p[key+"[]"]; ok {
		return true
	}
	for k := range c.p {
		if strings.HasPrefix(k, key+"[") {
			return true
		}
	}
	return false
}

// list returns an array param, accepting "k[]=" or a scalar "k=".
func (c *call) list(key string) []string {
	if v, ok := c.p[key+"[]"]; ok {
		return v
	}
	if v := c.p.Get(key); v != "" {
		return []string{v}
	}
	return nil
}

// topLevelKeys lists the distinct top-level param names (Rails params keys).
func (c *call) topLevelKeys() []string {
	seen := map[string]bool{}
	var out []string
	for k := range c.p {
		if i := strings.IndexByte(k, '['); i > 0 {
			k = k[:i]
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// railsBool casts like ActiveModel::Type::Boolean (false for "0", "f",
// "false", "off", ""; true otherwise).
func railsBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "f", "false", "off", "n", "no":
		return false
	}
	return true
}

// railsInt casts like Ruby's to_i: leading digits, else 0. ok is false for
// an empty string (cast to nil).
func railsInt(s string) (n int64, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	neg := false
	i := 0
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i++
	}
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// strictID parses a path id; Rails finds nothing for non-numeric ids.
func strictID(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
