package client

// The server's API in Go: its answers (Tokens, Me, Forecast), the calls the commands make
// (Me, Weather, and Call for the rest), and the JSON requests and answers under them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Tokens is the server's token response (RFC 6749 §5.1).
type Tokens struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

// Me is the answer of GET /api/auth/me: who the access token belongs to.
type Me struct {
	Sub  string `json:"sub"`
	Name string `json:"name"`
	Role string `json:"role"`
	SID  string `json:"sid"`
	Exp  int64  `json:"exp"`
}

// Forecast is one day of GET /api/weather.
type Forecast struct {
	Date         string `json:"date"`
	TemperatureC int    `json:"temperatureC"`
	TemperatureF int    `json:"temperatureF"`
	Summary      string `json:"summary"`
}

// Me returns who the access token belongs to.
func (c *Client) Me(ctx context.Context) (Me, error) {
	var m Me
	return m, c.Call(ctx, http.MethodGet, "/api/auth/me", &m)
}

// Weather returns the forecast for the next days days (the server's default when days ≤ 0).
func (c *Client) Weather(ctx context.Context, days int) ([]Forecast, error) {
	path := "/api/weather"
	if days > 0 {
		path += "?days=" + strconv.Itoa(days)
	}
	var f []Forecast
	return f, c.Call(ctx, http.MethodGet, path, &f)
}

// Call makes a request without a body to path on the server through the refreshing
// transport (see Do), and decodes a 2xx JSON answer into out (nil: the answer is read and
// dropped); any other status is an *Error. Commands use it for the endpoints the Client
// has no method of its own for.
func (c *Client) Call(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return c.decode(resp, path, out)
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.hc.Do(req)
	if re, ok := asRedirectError(err); ok {
		return re // refused, not unreachable
	}
	if err != nil {
		return offline(err)
	}
	defer resp.Body.Close()
	c.log(fmt.Sprintf("%s %s → %d", req.Method, req.URL.Path, resp.StatusCode))
	return c.decode(resp, path, out)
}

// maxBody bounds a success answer; a forecast of 14 days is a few kilobytes.
const maxBody = 4 << 20

func (c *Client) decode(resp *http.Response, path string, out any) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp, c.now())
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		return fmt.Errorf("decode the answer of %s: %w", path, err)
	}
	return nil
}
