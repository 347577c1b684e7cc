// Seleksi: the candidate terminal's service worker.
//
// It keeps the terminal's own files (the page, its style sheet and scripts)
// so that a reload (F5) while the server is down still shows the terminal:
// the page then says, in Bahasa Indonesia, that it is reconnecting, keeps
// the answers waiting in the tab's storage, and goes on by itself once the
// server answers again (js/terminal.js). Nothing else is cached: no API
// answer, no item, no score (WebSockets never pass through a service worker).
//
// Network first: a server that answers always serves its current files (a new
// version reaches the terminals on their next load); the copy kept here is
// used only when the server cannot be reached, or does not answer within
// NETWORK_MS.
//
// Browsers run service workers only in a secure context: https, or plain
// http on localhost / 127.0.0.1. Terminals that reach the server over plain
// http on a LAN address need https (or the kiosk browser's setting that
// treats that origin as secure) for this to work; without it the terminal
// works as before, only a reload during an outage shows the browser's error.
"use strict";

// v2: the survey's and the terminal pass's files are kept too: the page loads
// them, and an offline reload could find them only in the browser's own cache.
const CACHE = "seleksi-terminal-v2";
const SHELL = [
  "terminal.html",
  "css/seleksi.css",
  "css/terminal-survey.css",
  "css/terminal-pass.css",
  "js/i18n.js",
  "js/common.js",
  "js/terminal.js",
  "js/terminal-survey.js",
  "js/terminal-pass.js",
];
const NETWORK_MS = 4000;

const base = new URL("./", self.location.href);
const shellPaths = new Set(SHELL.map((path) => new URL(path, base).pathname));

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(new URL(path, base), { cache: "reload" }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("seleksi-terminal-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !shellPaths.has(url.pathname)) return;
  event.respondWith(networkFirst(request, url.pathname));
});

/** The server's copy (kept for later) or, if it cannot be had, the kept one. */
async function networkFirst(request, path) {
  const cache = await caches.open(CACHE);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NETWORK_MS);
  try {
    const response = await fetch(request, { signal: controller.signal });
    if (response.ok) {
      await cache.put(path, response.clone());
      return response;
    }
    // A server error page is worse than the kept shell.
    return (await cache.match(path)) || response;
  } catch (err) {
    const kept = await cache.match(path);
    if (kept) return kept;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
