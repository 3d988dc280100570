// Samhandling service worker (served at /sw.js, scope /). Generated per release: VERSION and PRECACHE are filled in.
// Caches only the content-hashed static files and the offline page; a personal copy of the action plan and the
// next meeting is kept only when the person turns on offline reading on this device, and removed on logout.
"use strict";
const VERSION = "__VERSION__";
const STATIC_CACHE = "samhandling-static-" + VERSION;
const READING_CACHE = "samhandling-reading";
const PRECACHE = __PRECACHE__;
const COPY_URL = "/offline/copy";
const COPY_PATHS = ["/plan", "/meeting", COPY_URL];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC_CACHE).then((cache) => cache.addAll(PRECACHE)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("samhandling-static-") && name !== STATIC_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function saveCopy() {
  const response = await fetch(COPY_URL, {credentials: "same-origin", cache: "no-store", redirect: "manual"});
  if (response.ok && response.type === "basic") {
    const cache = await caches.open(READING_CACHE);
    await cache.put(COPY_URL, response);
    return true;
  }
  await caches.delete(READING_CACHE);  // the session has ended: no copy stays behind
  return false;
}

self.addEventListener("message", (event) => {
  const type = event.data && event.data.type;
  if (type === "skip-waiting") self.skipWaiting();
  let work = null;
  if (type === "save-copy") work = saveCopy();
  if (type === "clear-copy") work = caches.delete(READING_CACHE);
  if (work) {
    event.waitUntil(work.then((ok) => {
      if (event.source) event.source.postMessage({type: type + "-done", ok: ok !== false});
    }));
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
    return;
  }
  if (request.mode !== "navigate") return;  // everything else goes to the network, never into a cache
  event.respondWith(fetch(request).catch(async () => {
    if (COPY_PATHS.includes(url.pathname)) {
      const copy = await caches.open(READING_CACHE).then((cache) => cache.match(COPY_URL));
      if (copy) return copy;
    }
    return (await caches.match("/offline")) || Response.error();
  }));
});

self.addEventListener("push", (event) => {
  let message = {};
  try { message = event.data ? event.data.json() : {}; } catch (error) { message = {}; }
  const title = message.title || "Samhandling";
  event.waitUntil(self.registration.showNotification(title, {
    body: message.body || "", tag: message.tag || undefined, renotify: Boolean(message.tag),
    icon: "__ICON__", data: {url: message.url || "/"},
  }));
});

// Open the page a notification is about: an open window on it is focused, else a window is navigated there.
async function openPage(url) {
  const target = new URL(url || "/", self.location.origin);
  if (target.origin !== self.location.origin) return null;
  const windows = await self.clients.matchAll({type: "window", includeUncontrolled: true});
  for (const client of windows) {
    if (client.url === target.href) return client.focus().catch(() => client);
  }
  if (windows.length) {
    const client = await windows[0].navigate(target.href);
    if (client) await client.focus().catch(() => null);
    return client;
  }
  return self.clients.openWindow(target.href);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openPage(event.notification.data && event.notification.data.url));
});
