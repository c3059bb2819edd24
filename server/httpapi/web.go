package httpapi

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

// webFiles is the built-in browser client: plain HTML, one ES module, one stylesheet. No
// build step, so what is reviewed here is exactly what the browser runs.
//
//go:embed web
var webFiles embed.FS

// contentSecurityPolicy allows nothing but our own files: no inline script or style, no
// eval, no plugins, no framing (clickjacking), no form posts anywhere (the login form is
// sent by the script; if the script never ran, the password must not leave in a URL), and
// Trusted Types so that no string can ever become markup.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// webTypes are the content types of the files we ship; anything else is not served.
var webTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// handleWeb serves the page at / and its files under /web/. Everything gets the same strict
// headers; no-cache makes a browser revalidate, so an upgraded server never runs an old
// script against a new API.
func handleWeb() http.Handler {
	files, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file") // "GET /web/{file}": one path segment, never "..".
		if name == "" {
			name = "index.html"
		}
		ctype, known := webTypes[path.Ext(name)]
		body, err := fs.ReadFile(files, name)
		if !known || err != nil {
			encode(w, http.StatusNotFound, &apiError{Code: "not_found", Description: "no such file"})
			return
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}
