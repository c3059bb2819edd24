package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/authctl/authctl/server"
)

// loginCredentials is a login body: it names its username member (for the error that says
// it is missing) and gives the username and password.
type loginCredentials interface {
	credentials() (userField, username, password string)
}

// loginRequest is the body of POST /api/auth/login, in the JSON and the browser mode.
type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (q loginRequest) credentials() (string, string, string) {
	return "username", q.Username, q.Password
}

// handleLoginWith serves a login whose body is a Req and whose answer write gives. The JSON,
// browser and classic logins differ in nothing else, so the checks and the call to the
// Service are written once, here.
func handleLoginWith[Req loginCredentials](svc *server.Service, log *slog.Logger, write func(http.ResponseWriter, *http.Request, server.Tokens)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[Req](r)
		var t server.Tokens
		if err == nil {
			userField, username, password := req.credentials()
			if err = checkCredentials(userField, username, password); err == nil {
				t, err = svc.LoginFrom(r.Context(), username, password, clientInfo(r))
			}
		}
		if err != nil {
			fail(w, r, log, err)
			return
		}
		write(w, r, t)
	})
}
