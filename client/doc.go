// Package client is authctl's client for the native JSON API of an authctl server, with the
// refreshing HTTP transport at its heart.
//
// A Client talks to one server. Built with WithSessions it keeps that server's session
// (access token, rotating refresh token, expiry times) in a keystore.Store, and every
// authenticated call goes through a transport that:
//
//   - attaches "Authorization: Bearer <access token>", only to requests for the client's own
//     server (a redirect elsewhere never carries the token);
//   - refreshes before sending when the access token expires within the skew (WithSkew,
//     default 10s), judged by the client clock (WithNow);
//   - on a 401 refreshes once and replays the request once, when its body can be replayed
//     (req.GetBody; requests made with http.NewRequest over a bytes/strings reader have it);
//     a second 401 is returned to the caller as is;
//   - shares one refresh among concurrent requests of the process, and across processes
//     takes an exclusive file lock per server (WithLockDir) and re-reads the keystore under
//     it, so a refresh token another authctl already rotated is never spent again; the
//     successor is saved before the lock is released (Login and Logout take the same lock,
//     so a refresh finishing elsewhere never overwrites a new session or revives an old one);
//   - ends the session when the server answers a refresh with invalid_grant: the local
//     session is deleted and the error matches ErrSessionEnded;
//   - never sends a request without its token because the keystore failed: keystore errors
//     are returned.
//
// Every exchange of a Client, with or without the token, refuses plain http:// to a host
// that is not loopback (ErrInsecureHTTP) unless WithInsecureHTTP; NewTransport adds the CA
// certificates of a PEM file to the trusted roots. Login revokes the session it replaces
// on the server, best effort (LoginReplacing says how that went). Do sends any request
// through the refreshing transport (`authctl api`); URL resolves a request's target by the
// transport's own-origin rule, refusing another origin with an *OriginError. A redirect to
// another origin of a request with a body or credentials is refused (*RedirectError).
//
// Typical use by the CLI:
//
//	c := client.New(server, client.WithSessions(store), client.WithLog(verbose))
//	if _, err := c.Login(ctx, user, password); err != nil { … }   // stores the session
//	days, err := c.Weather(ctx, 5)                                  // refreshes as needed
//	tok, err := c.AccessToken(ctx)                                  // `authctl token print`
//	err = c.Logout(ctx)                                             // errors.Is(err, client.ErrOffline): deleted locally only
//
// Errors: a server's RFC 6749 error answer is an *Error (errors.Is matches ErrInvalidGrant,
// ErrUnauthorized, ErrRateLimited); ErrNotLoggedIn means no stored session; ErrSessionEnded
// means the session expired or was revoked (log in again); ErrOffline wraps network failures,
// worded for people without the request URL (NetworkReason), and ErrTLS the TLS ones among
// them (an untrusted certificate, a server that does not speak TLS).
// The CLI maps ErrNotLoggedIn, ErrSessionEnded and ErrUnauthorized to exit code 4.
//
// WithStaticToken (AUTHCTL_TOKEN) uses a given access token as is: no refresh, nothing
// stored, a 401 comes back as ErrUnauthorized; Refresh and Logout answer ErrStaticToken.
//
// The lock file of a server is LockPath(lockDir, client.Server()): the hex SHA-256 of the
// normalised server URL plus ".lock", created 0600 in a 0700 directory.
//
// Tokens are verified offline by package jose; this package only fetches a JWKS for it
// (FetchJWKS), failing the way its other calls do.
package client
