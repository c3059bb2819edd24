// The requests of the classic tutorial's Angular client (LoginService, WeatherReportService,
// TokenInterceptorService), without Angular: tokens in localStorage; the weather call with
// that app's headers, an Access-Control-Allow-Headers *request* header among them; the
// interceptor adding "bearer <jwt>" to every call and, on a 401, refreshing through the same
// wrapper and replaying once; a failed refresh clearing the storage and showing the login.
// The API base comes from ?api=, as environment.ts would give it.

const api = new URLSearchParams(location.search).get('api');
const WEATHER_HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json',
  'Access-Control-Allow-Headers': 'Content-Type',
};

const $ = (id) => document.getElementById(id);
const count = (name) => {
  document.body.dataset[name] = String(Number(document.body.dataset[name]) + 1);
};

function view(name, error = '') {
  for (const id of ['login', 'home']) {
    $(id).hidden = id !== name;
  }
  $('error').textContent = error;
  $('error').hidden = !error;
  document.body.dataset.view = name;
}

// TokenInterceptorService: every request goes through here.
function send(method, path, body, headers) {
  const h = { ...headers };
  const jwt = localStorage.getItem('jwt');
  if (jwt) {
    h.Authorization = `bearer ${jwt}`;
  }
  return fetch(api + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function intercepted(method, path, body, headers) {
  let res = await send(method, path, body, headers);
  if (res.status === 401) {
    if (!(await refreshToken(headers))) {
      localStorage.clear();
      view('login', 'Session expired. Please log in again.');
      return null;
    }
    res = await send(method, path, body, headers);
    if (res.status === 401) {
      localStorage.clear();
      view('login', 'Unauthorized. Please log in again.');
      return null;
    }
  }
  return res;
}

async function refreshToken(headers) {
  const res = await send('POST', 'JWT/refreshjwt',
    { jwtToken: localStorage.getItem('jwt'), refreshToken: localStorage.getItem('refreshToken') }, headers);
  if (!res.ok) {
    return false;
  }
  const t = await res.json();
  localStorage.setItem('jwt', t.token);
  localStorage.setItem('refreshToken', t.refreshToken);
  count('refreshes');
  $('refreshed').textContent = `Token refreshed @ ${new Date().toLocaleTimeString()}`;
  $('refreshed').hidden = false;
  return true;
}

// LoginService.
async function login(event) {
  event.preventDefault();
  try {
    const res = await send('POST', 'JWT/jwtauth', { userName: $('userName').value, password: $('password').value },
      { 'Content-Type': 'application/json', Accept: 'application/json, text/plain, */*' });
    if (!res.ok) {
      view('login', `Login failed: ${res.status}`);
      return;
    }
    const t = await res.json();
    localStorage.setItem('jwt', t.token);
    localStorage.setItem('refreshToken', t.refreshToken);
    view('home');
  } catch (err) {
    view('login', `Network error: ${err.message}`);
  }
}

// WeatherReportService.
async function checkWeather() {
  try {
    const res = await intercepted('GET', 'WeatherForecast', undefined, WEATHER_HEADERS);
    if (!res) {
      return;
    }
    if (!res.ok) {
      view('home', `Weather failed: ${res.status}`);
      return;
    }
    const tbody = $('rows');
    tbody.replaceChildren();
    for (const f of await res.json()) {
      const tr = tbody.insertRow();
      for (const v of [f.date, f.temperatureC, f.temperatureF, f.summary]) tr.insertCell().textContent = String(v);
    }
    count('loads');
    view('home');
  } catch (err) {
    view('home', `Network error: ${err.message}`);
  }
}

$('login-form').addEventListener('submit', login);
$('check').addEventListener('click', checkWeather);
$('clear').addEventListener('click', () => {
  localStorage.clear();
  view('login');
});
view(localStorage.getItem('jwt') ? 'home' : 'login');
