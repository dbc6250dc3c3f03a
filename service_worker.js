// ohifpy service worker: keeps the app shell (HTML, JS, CSS, wasm, wheels, stdlib, lock,
// config, icons, manifest) in Cache Storage so a second start is fast and works offline.
//
// scripts/build_static.py replaces the BUILD line below with the list of app-shell files
// (paths relative to the base path) and their Subresource Integrity hashes; the cache
// name is versioned by a hash of that list. Only those files ever enter the cache:
// DICOMweb answers, OIDC traffic, demo data and anything else go to the network untouched,
// so no patient data is ever stored here.
const BUILD = { version: "dev", files: {}, networkFirst: [] };

const CACHE_PREFIX = "ohifpy-shell-";
const CACHE_NAME = CACHE_PREFIX + BUILD.version;
// The page registers this worker with its base path as scope: URLs resolve against it,
// so the same dist works at / and under a subpath.
const SCOPE = new URL(self.registration.scope);
const urlOf = (relative) => new URL(relative, SCOPE).href;
const PRECACHE = new Map(
  Object.entries(BUILD.files).map(([relative, integrity]) => [urlOf(relative), integrity]),
);
const NETWORK_FIRST = new Set(BUILD.networkFirst.map(urlOf));

async function integrityOf(response) {
  const digest = await crypto.subtle.digest("SHA-256", await response.clone().arrayBuffer());
  return "sha256-" + btoa(String.fromCharCode(...new Uint8Array(digest)));
}

// A response that followed a redirect cannot answer a navigation: keep only its body.
async function storable(response) {
  if (!response.redirected) return response;
  return new Response(await response.blob(), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

async function precache() {
  const cache = await caches.open(CACHE_NAME);
  const older = (await caches.keys()).filter(
    (name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME,
  );
  await Promise.all(
    [...PRECACHE].map(async ([url, integrity]) => {
      // Unchanged files (same hash) are copied from the previous version's cache
      // instead of downloaded again: a deploy only costs what it changed.
      for (const name of integrity ? older : []) {
        const previous = await (await caches.open(name)).match(url);
        if (previous && (await integrityOf(previous)) === integrity) {
          await cache.put(url, previous);
          return;
        }
      }
      const response = await fetch(url, integrity ? { cache: "no-cache", integrity } : { cache: "no-cache" });
      if (!response.ok) throw new Error(`precache ${url}: HTTP ${response.status}`);
      await cache.put(url, await storable(response));
    }),
  );
}

async function dropOldCaches() {
  for (const name of await caches.keys()) {
    if (name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME) await caches.delete(name);
  }
  await self.clients.claim();
}

// The cache key of an app-shell request, or null for anything else.
function shellKey(request) {
  const url = new URL(request.url);
  const bare = url.origin + url.pathname;
  if (request.mode === "navigate") {
    // "/", "/viewer", "/local/" (any query string) are the page itself.
    const page = bare.endsWith("/") ? bare + "index.html" : bare + "/index.html";
    return [bare, page].find((candidate) => PRECACHE.has(candidate)) ?? null;
  }
  return url.search === "" && PRECACHE.has(bare) ? bare : null;
}

async function cacheFirst(key, request) {
  return (await caches.match(key, { cacheName: CACHE_NAME })) ?? fetch(request);
}

async function networkFirst(key, request) {
  try {
    const response = await fetch(request, { cache: "no-cache" });
    if (response.ok) {
      const cache = await caches.open(CACHE_NAME);
      await cache.put(key, await storable(response.clone()));
    }
    return response;
  } catch (error) {
    const cached = await caches.match(key, { cacheName: CACHE_NAME });
    if (cached) return cached;
    throw error;
  }
}

// Folders of files a build never changes and the page needs at once at every start:
// Pyodide, the wheels, the codecs (nearly all of the shell's bytes).
const STATIC_ROUTES = ["pyodide/*", "codecs/*"];

self.addEventListener("install", (event) => {
  event.waitUntil(precache());
  // Where the browser has static routes (Chromium 123+), it answers those folders from
  // this version's cache itself, without waking this worker or piping bodies through it;
  // a miss goes to the network. Elsewhere the fetch handler below does the same.
  event.addRoutes?.(STATIC_ROUTES.map((path) => ({
    condition: { urlPattern: { pathname: urlOf(path).slice(SCOPE.origin.length) } },
    source: { cacheName: CACHE_NAME },
  })));
});
self.addEventListener("activate", (event) => event.waitUntil(dropOldCaches()));
// A new version waits until every tab of the old one is closed (so a running viewer never
// mixes files of two builds) unless the page asks to switch now.
self.addEventListener("message", (event) => {
  if (event.data === "skipWaiting") self.skipWaiting();
});
self.addEventListener("fetch", (event) => {
  // A request carrying credentials is never answered from, or put in, the cache.
  if (event.request.method !== "GET" || event.request.headers.has("Authorization")) return;
  const key = shellKey(event.request);
  if (key === null) return; // network, never cached
  event.respondWith(
    NETWORK_FIRST.has(key) ? networkFirst(key, event.request) : cacheFirst(key, event.request),
  );
});
