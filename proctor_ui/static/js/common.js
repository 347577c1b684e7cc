// Seleksi: helpers shared by the pages (HTTP, WebSocket URLs, the server clock, DOM).
"use strict";

(function () {
  const Seleksi = (window.Seleksi = window.Seleksi || {});

  /** Build an element: el("td", {class: "num"}, "12"). Text is never parsed as HTML. */
  Seleksi.el = function (tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };

  /** An HTTP error with the server's code (e.g. "bad_credentials"). */
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || code);
      this.status = status;
      this.code = code;
    }
  }
  Seleksi.ApiError = ApiError;

  /** JSON request to the server; throws ApiError with the server's error code. */
  Seleksi.api = async function (method, path, body, token) {
    const headers = { Accept: "application/json" };
    // A File or Blob goes as its bytes (a zip is not text), a string as CSV,
    // FormData as multipart, anything else as JSON.
    const raw = typeof body === "string" || body instanceof FormData || body instanceof Blob;
    if (body !== undefined && !raw) headers["Content-Type"] = "application/json";
    if (typeof body === "string") headers["Content-Type"] = "text/csv";
    if (body instanceof Blob) headers["Content-Type"] = "application/octet-stream";
    if (token) headers.Authorization = "Bearer " + token;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, "network", String(err));
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = { message: text };
    }
    if (!response.ok) {
      const body = data || {};
      const nested = typeof body.error === "object" && body.error ? body.error : {};
      const code = typeof body.error === "string" ? body.error : nested.code || body.code || "http_" + response.status;
      const apiErr = new ApiError(response.status, code, body.message || nested.message || code);
      apiErr.data = body;
      throw apiErr;
    }
    return data;
  };

  Seleksi.wsUrl = function (path) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + location.host + path;
  };

  /** The server's clock: every frame's server time corrects our offset. */
  Seleksi.ServerClock = class {
    constructor() {
      this.offset = 0; // server seconds − local seconds
    }
    sync(serverTime) {
      if (typeof serverTime === "number") this.offset = serverTime - Date.now() / 1000;
    }
    now() {
      return Date.now() / 1000 + this.offset;
    }
    /** Seconds until an epoch `deadline` by the server's clock (never negative). */
    until(deadline) {
      return Math.max(0, deadline - this.now());
    }
  };

  Seleksi.fmtDuration = function (seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return (h > 0 ? h + ":" + two(m) : two(m)) + ":" + two(sec);
  };

  Seleksi.fmtClock = function (epoch) {
    if (!epoch) return "–";
    const d = new Date(epoch * 1000);
    return d.toLocaleTimeString(Seleksi.lang === "en" ? "en-GB" : "id-ID", { hour12: false });
  };

  Seleksi.fmtAgo = function (seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
    const s = Math.max(0, Math.round(seconds));
    return s < 120 ? Seleksi.t("ago.s", { n: s }) : Seleksi.t("ago.m", { n: Math.round(s / 60) });
  };

  Seleksi.fmtPoints = function (value) {
    if (value === null || value === undefined) return "–";
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
  };

  /** A message for an error code, translated when known; ``data``: the error
   * body (a 429 says in ``retry_after`` how many seconds to wait). */
  Seleksi.errorText = function (code, data) {
    const wait = data && Number(data.retry_after);
    if (code === "rate_limited" && wait > 0) {
      return Seleksi.t("err.rate_limited_wait", { n: Math.ceil(wait) });
    }
    const key = "err." + code;
    const text = Seleksi.t(key);
    return text === key ? Seleksi.t("err.generic", { code }) : text;
  };

  /** The staff login of a page, one for all of them: the login form (POST
   * /api/auth/login), the token in sessionStorage under ``storageKey``, the
   * screens shown signed in or out, the logout button and a refresh loop.
   *
   * Options (ids are element ids; the defaults are the common page's):
   * - storageKey: where the token is kept (pages that share it share the login);
   * - roles: the roles that may sign in here (null: any staff role);
   * - refused: the error code said to another role ("forbidden" unless given);
   * - codes: the login's error codes said as others (by default a wrong
   *   password is said in staff words: bad_credentials → bad_staff_credentials);
   * - errorText(err): the login error in words, instead of S.errorText;
   * - form, username, password, error: the login form's ids (null form: a page
   *   that only reads the token another page stored);
   * - screens: { login, main: [ids] } toggled by show(); logout: the button's id (or null);
   * - onLogin(reply): after the token is stored (default: show()); awaited, and
   *   what it throws is said under the form;
   * - onLogout(): after the token is dropped (default: show());
   * - refresh, refreshMs: called on show() while signed in, and every refreshMs.
   *
   * Returns { token, show(), logout(), forget(), ended(code), call(method, path, body),
   * fetch(path) }:
   * call() is S.api with the token. A 401 there (the token expired, or the
   * account was disabled) logs out and says why under the login form, also
   * after an onLogout that reloads the page: the one thing every staff page
   * does when its login stops working (no stale screen, no bare error code). */
  Seleksi.staffSession = function (options) {
    const o = {
      roles: null,
      refused: "forbidden",
      codes: { bad_credentials: "bad_staff_credentials" },
      form: "login-form",
      username: "username",
      password: "password",
      error: "login-error",
      logout: "logout",
      screens: null,
      ...options,
    };
    const $ = (id) => document.getElementById(id);
    const store = window.sessionStorage;
    // Why the last login ended (an error code), kept for the login form across
    // a reload; cleared once shown at a page's start or at the next login.
    const endedKey = o.storageKey + ".ended";
    let timer = null;
    const sayEnded = (code) => {
      if (o.error && $(o.error)) $(o.error).textContent = Seleksi.errorText(code);
    };
    const session = {
      token: store.getItem(o.storageKey),
      /** The screens for signed in or out; the refresh loop runs while signed in. */
      show() {
        const on = !!session.token;
        if (o.screens) {
          $(o.screens.login).classList.toggle("hidden", on);
          for (const id of o.screens.main) $(id).classList.toggle("hidden", !on);
        }
        if (o.logout) $(o.logout).classList.toggle("hidden", !on);
        clearInterval(timer);
        if (on && o.refresh) {
          o.refresh();
          timer = setInterval(o.refresh, o.refreshMs);
        }
      },
      /** Drop the token (without showing anything). */
      forget() {
        store.removeItem(o.storageKey);
        session.token = null;
      },
      logout() {
        session.forget();
        (o.onLogout || session.show)();
      },
      /** The token stopped working (``code``: why): log out and say so. */
      ended(code) {
        store.setItem(endedKey, code || "expired_token");
        session.logout();
        sayEnded(code || "expired_token");
      },
      call(method, path, body) {
        return Seleksi.api(method, path, body, session.token).catch((err) => {
          if (err.status === 401 && session.token) session.ended(err.code);
          throw err;
        });
      },
      /** A GET of what is not JSON (a server-rendered report) with the token:
       * the Response; a 401 ends the login as call() does. */
      async fetch(path) {
        const response = await fetch(path, { headers: { Authorization: "Bearer " + session.token } });
        if (response.status === 401 && session.token) {
          const body = await response.clone().json().catch(() => ({}));
          session.ended(typeof body.error === "string" ? body.error : "expired_token");
        }
        return response;
      },
    };
    const ended = store.getItem(endedKey);
    if (ended && !session.token) {
      sayEnded(ended);
      store.removeItem(endedKey);
    }
    if (o.form) {
      $(o.form).addEventListener("submit", async (ev) => {
        ev.preventDefault();
        $(o.error).textContent = "";
        try {
          const reply = await Seleksi.api("POST", "/api/auth/login", {
            username: $(o.username).value.trim(),
            password: $(o.password).value,
          });
          if (o.roles && !o.roles.includes(reply.role)) throw new ApiError(403, o.refused);
          session.token = reply.token;
          store.setItem(o.storageKey, reply.token);
          store.removeItem(endedKey);
          await (o.onLogin || session.show)(reply);
        } catch (err) {
          $(o.error).textContent = o.errorText
            ? o.errorText(err)
            : Seleksi.errorText(Object.hasOwn(o.codes, err.code) ? o.codes[err.code] : err.code, err.data);
        }
      });
    }
    if (o.logout) $(o.logout).addEventListener("click", () => session.logout());
    return session;
  };

  Seleksi.query = function (name) {
    return new URLSearchParams(location.search).get(name);
  };
})();
