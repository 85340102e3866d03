// Package redact removes secrets from text before it reaches a log or the
// screen: API secrets, access tokens, E2EE passphrases, credentials in
// URLs. It knows nothing of LiveKit or the network, so every layer (the
// session, the UI, the command) can use it.
package redact

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redaction goes by structure, not by searching for the secret's text: a
// value whose attribute is named like a secret, a URL's userinfo and its
// credential query values, `key=value` pairs with such a key, bearer
// credentials and JWT-shaped strings. A given secret is also looked for as
// it is, but only as a whole token and only when it is long enough not to
// occur by chance: a passphrase "e" searched for as text would garble
// every line ("conn<redacted>cting"), and "track" turned "created data
// track" into "created data <redacted>", which shows the secret by where
// the marker lands.

// MinFreeTextSecret is the shortest secret looked for in free text.
// Shorter ones are redacted only where the structure says a secret is.
const MinFreeTextSecret = 8

// Marker replaces a secret; TokenMarker replaces a JWT.
const (
	Marker      = "<redacted>"
	TokenMarker = "<redacted token>"
)

// jwtPattern matches a JSON Web Token, or what is left of one cut short
// after its header: LiveKit access tokens are JWTs whose header, base64url
// of `{"`, starts with "eyJ".
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?`)

// urlPattern matches a URL in free text, up to a space or a quote.
var urlPattern = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

// keyValuePattern matches key=value and "key":"value" where the key names a
// secret; the value (group 3) may be quoted. A value already redacted
// (<...>) is left.
var keyValuePattern = regexp.MustCompile(`(?i)([\w.-]*(?:token|secret|passphrase|password|passwd|authorization|credential)[\w.-]*)(\s*=\s*|"\s*:\s*)("[^"<][^"]*"|[^<\s"',;&)\]}][^\s"',;&)\]}]*)`)

// credentialPattern matches an HTTP bearer credential, or a basic one
// (base64, so "basic" in prose is left alone).
var credentialPattern = regexp.MustCompile(`(?i)\b(bearer\s+)([^<\s"',;\]]+)|\b(basic\s+)([A-Za-z0-9+/]{8,}=*)`)

// secretWords are the parts of attribute and query keys that name a secret.
var secretWords = []string{"token", "secret", "passphrase", "password", "passwd", "authorization", "credential"}

// SecretKey says whether an attribute or parameter named key holds a secret.
func SecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// secretQueryKey adds the short names URLs use for credentials.
func secretQueryKey(key string) bool {
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	switch strings.ToLower(key) {
	case "key", "sig", "signature", "auth", "x-amz-signature", "x-goog-signature":
		return true
	}
	return SecretKey(key)
}

// Secrets returns s with every secret it can recognise replaced:
// JWTs, URL credentials, secret key=value pairs, bearer credentials, and
// each given secret of at least MinFreeTextSecret bytes where it stands as
// a whole token.
func Secrets(s string, secrets ...string) string {
	return newRedactor(secrets).text(s)
}

type redactor struct{ secrets []string }

func newRedactor(secrets []string) redactor {
	var keep []string
	for _, s := range secrets {
		if len(s) >= MinFreeTextSecret {
			keep = append(keep, s)
		}
	}
	return redactor{keep}
}

func (r redactor) text(s string) string {
	if strings.Contains(s, "eyJ") {
		s = jwtPattern.ReplaceAllString(s, TokenMarker)
	}
	if strings.Contains(s, "://") {
		s = urlPattern.ReplaceAllStringFunc(s, redactURLText)
	}
	if strings.ContainsAny(s, "=:") && SecretKey(s) {
		s = keyValuePattern.ReplaceAllStringFunc(s, func(m string) string {
			sub := keyValuePattern.FindStringSubmatch(m)
			if strings.HasPrefix(sub[3], `"`) {
				return sub[1] + sub[2] + `"` + Marker + `"`
			}
			return sub[1] + sub[2] + Marker
		})
	}
	if containsFold(s, "bearer") || containsFold(s, "basic") {
		s = credentialPattern.ReplaceAllString(s, "${1}${3}"+Marker)
	}
	for _, sec := range r.secrets {
		s = replaceWhole(s, sec)
	}
	return s
}

func containsFold(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }

// replaceWhole replaces sec where it is not glued to a letter, digit or
// underscore on either side.
func replaceWhole(s, sec string) string {
	var b strings.Builder
	from := 0
	for i := 0; ; {
		j := strings.Index(s[i:], sec)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(sec)
		before, _ := utf8.DecodeLastRuneInString(s[:start])
		after, _ := utf8.DecodeRuneInString(s[end:])
		first, _ := utf8.DecodeRuneInString(sec)
		last, _ := utf8.DecodeLastRuneInString(sec)
		if (start == 0 || !(word(before) && word(first))) && (end == len(s) || !(word(after) && word(last))) {
			b.WriteString(s[from:start])
			b.WriteString(Marker)
			from = end
			i = end
		} else {
			i = start + 1
		}
	}
	if from == 0 {
		return s
	}
	b.WriteString(s[from:])
	return b.String()
}

func word(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// redactURLText keeps a URL in a log line readable: userinfo becomes
// <redacted>@, and credential parameters in the query or fragment lose
// their values. It works on the text, so a URL that does not parse is
// redacted all the same.
func redactURLText(u string) string {
	scheme, rest, _ := strings.Cut(u, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = Marker + rest[at:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i+1] + redactParams(rest[i+1:])
	}
	return scheme + "://" + rest
}

// redactParams redacts credential values in a query (and fragment).
func redactParams(q string) string {
	var b strings.Builder
	for i, part := range strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == '#' || r == ';' }) {
		if i > 0 {
			b.WriteByte('&')
		}
		k, _, hasValue := strings.Cut(part, "=")
		if hasValue && secretQueryKey(k) {
			part = k + "=" + Marker
		}
		b.WriteString(part)
	}
	return b.String()
}

// URL returns u without credentials, query or fragment, for display:
// nothing a user pasted with a token in it reaches the screen or the logs.
// A URL that does not parse ("ws://user:pw@exa mple") loses them too.
func URL(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		p.User, p.RawQuery, p.Fragment, p.ForceQuery = nil, "", "", false
		return p.String()
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	prefix, rest := "", u
	if i := strings.Index(u, "://"); i >= 0 {
		prefix, rest = u[:i+3], u[i+3:]
	}
	end := strings.IndexByte(rest, '/')
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = rest[at+1:]
	}
	return prefix + rest
}

// Logger returns a logger that writes to l with secrets removed from
// messages and attributes (see Secrets); values of attributes named
// like a secret (SecretKey) are replaced whole. A nil l discards.
func Logger(l *slog.Logger, secrets ...string) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(&redactHandler{h: l.Handler(), r: newRedactor(secrets)})
}

type redactHandler struct {
	h slog.Handler
	r redactor
}

func (r *redactHandler) Enabled(ctx context.Context, lv slog.Level) bool { return r.h.Enabled(ctx, lv) }

func (r *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, r.r.text(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(r.attr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = r.attr(a)
	}
	return &redactHandler{h: r.h.WithAttrs(red), r: r.r}
}

func (r *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: r.h.WithGroup(name), r: r.r}
}

func (r *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if s != "" && SecretKey(a.Key) {
			return slog.String(a.Key, Marker)
		}
		return slog.String(a.Key, r.r.text(s))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = r.attr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		// Errors, byte slices, structs: check their printed form, and
		// replace the value only when it carries a secret.
		var s string
		if b, ok := v.Any().([]byte); ok {
			s = string(b) // handlers print bytes as text
		} else {
			s = fmt.Sprint(v.Any())
		}
		if s != "" && SecretKey(a.Key) {
			return slog.String(a.Key, Marker)
		}
		if red := r.r.text(s); red != s {
			return slog.String(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
