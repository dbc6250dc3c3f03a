// Sign-in to protected DICOMweb servers: OpenID Connect, authorization code + PKCE, with
// oidc-client-ts (vendor/oidc-client-ts.min.js, loaded only when the config has `oidc`).
// This file is glue: the library does the protocol; Python (ohifpy.dicomweb.bearer) decides
// which requests carry the token (the configured servers' origins, nothing else).
//
//   startAuth({config, base, worker, route}) -> Promise of the auth state, once the page may
//   render: signed in, or not needing it (local files), or after the sign-in callback put
//   back the URL the user started from. A page that needs data and has no user leaves for
//   the provider's sign-in; the promise then never settles.
//
// The token reaches the worker at once whenever it changes (sign-in, renewal, sign-out).
// A 401 makes the worker ask ("token-needed"): a silent renewal first; if that fails, a
// notice asks the user to sign in again in a popup, and the requests wait meanwhile, so
// the open viewer and its unsaved measurements stay as they are.

import { element } from "./dom.js";
import { clearPreference } from "./preferences.js";

const CHANNEL = "ohifpy-auth"; // sign-out reaches the other tabs of this site
// When this tab last left for the provider: back without a user soon after means the
// sign-in does not complete (a provider or browser setting); asking again would loop.
const LEFT_FOR_SIGN_IN = "ohifpy:left-for-sign-in";
const LOOP_WINDOW_MS = 15_000;

// OHIF writes `oidc` as a list of one. Its URIs default to "/callback", "/silent-refresh.html"
// and "/": a URI starting with "/" is taken relative to the site's base path, so a subpath
// deploy needs no change; absolute URLs stay as they are.
const entry = (oidc) => (Array.isArray(oidc) ? oidc[0] : oidc);

function settingsOf(oidc, base) {
  const { silent_redirect_uri, redirect_uri, post_logout_redirect_uri, ...options } = entry(oidc);
  const resolve = (uri, fallback) => new URL(String(uri ?? fallback).replace(/^\/(?!\/)/, ""), base).href;
  const silent = resolve(silent_redirect_uri, "silent-refresh.html");
  return {
    authority: options.authority,
    client_id: options.client_id,
    scope: options.scope ?? "openid",
    response_type: "code",
    redirect_uri: resolve(redirect_uri, "callback"),
    silent_redirect_uri: silent,
    popup_redirect_uri: silent, // the light page: a popup must not start Python
    post_logout_redirect_uri: resolve(post_logout_redirect_uri, ""),
    automaticSilentRenew: options.automaticSilentRenew ?? true,
    revokeTokensOnSignout: false, // done by signing out (below), where a failure cannot stop it
    extraQueryParams: options.extraQueryParams ?? {},
    accessTokenExpiringNotificationTimeInSeconds: options.accessTokenExpiringNotificationTimeInSeconds ?? 60,
  };
}

let library = null;
function loadLibrary(base) {
  library ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = new URL("vendor/oidc-client-ts.min.js", base).href;
    script.onload = () => resolve(self.oidc);
    script.onerror = () => reject(new Error("the sign-in library could not be loaded"));
    document.head.append(script);
  });
  return library;
}

// Where to come back to after sign-in: only a page of this site.
function returnUrl(state, base) {
  try {
    const url = new URL(String(state), base);
    if (url.origin === base.origin && url.pathname.startsWith(base.pathname)) return url.href;
  } catch {
    // not a URL: the site's home
  }
  return base.href;
}

// A bearer token from the link (?token=, as OHIF), taken out of the address bar at once.
export function takeUrlToken() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token === null) return null;
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url);
  return token;
}

export async function startAuth({ config, base, worker, route, urlToken }) {
  if (!config.oidc) {
    const token = config.allowTokenInUrl === true ? urlToken : null;
    worker.setAccessToken(token);
    // Nobody to renew with: the same token again tells Python the 401 stands.
    worker.on("token-needed", () => worker.setAccessToken(token));
    return { user: null };
  }
  const oidc = await loadLibrary(base);
  const manager = new oidc.UserManager(settingsOf(config.oidc, base));
  const channel = "BroadcastChannel" in self ? new BroadcastChannel(CHANNEL) : null;
  const notice = authNotice();
  const revoke = entry(config.oidc).revokeAccessTokenOnSignout ?? true;
  const menu = userMenu(manager, worker, channel, notice, revoke);
  manager.events.addUserLoaded((user) => {
    worker.setAccessToken(user.access_token);
    menu.show(user);
    notice.hide();
  });
  manager.events.addUserUnloaded(() => worker.setAccessToken(null));

  if (route === "callback") {
    let user;
    try {
      user = await manager.signinCallback();
    } catch (error) {
      // No automatic new attempt: a provider that keeps failing must not loop the page.
      notice.show(`Sign-in failed: ${error.message}`, "Try again", () => manager.signinRedirect({ state: base.href }));
      return new Promise(() => {});
    }
    history.replaceState(null, "", returnUrl(user?.state, base));
  }

  let user = await manager.getUser();
  if (user?.expired && user.refresh_token) user = await manager.signinSilent().catch(() => null);
  if (!user || user.expired) {
    if (route === "local") return { user: null, manager }; // the user's own files need no server
    const signIn = () => {
      sessionStorage.setItem(LEFT_FOR_SIGN_IN, String(Date.now()));
      return manager.signinRedirect({ state: location.href });
    };
    if (Date.now() - Number(sessionStorage.getItem(LEFT_FOR_SIGN_IN)) < LOOP_WINDOW_MS) {
      notice.show("Sign-in did not complete: the provider sent the browser back without a session.", "Try again", signIn);
    } else {
      await signIn();
    }
    return new Promise(() => {}); // the page is leaving for the provider, or waits for the user
  }
  sessionStorage.removeItem(LEFT_FOR_SIGN_IN);
  worker.setAccessToken(user.access_token);
  menu.show(user);

  let renewing = false;
  const signInAgain = (message) =>
    notice.show(message, "Sign in", () =>
      manager.signinPopup().catch((error) => signInAgain(`Sign-in failed: ${error.message}`)));
  worker.on("token-needed", async () => {
    if (renewing) return;
    renewing = true;
    try {
      await manager.signinSilent(); // userLoaded hands the worker the new token
    } catch {
      signInAgain("Your session has ended: sign in again to go on. The viewer keeps its place.");
    } finally {
      renewing = false;
    }
  });
  channel?.addEventListener("message", async ({ data }) => {
    if (data !== "signed-out") return;
    await manager.removeUser();
    menu.hide();
    signInAgain("You signed out in another tab.");
  });
  return { user, manager };
}

// Under the header: what happened to the sign-in, and the button that mends it.
function authNotice() {
  const text = element("span", "auth-notice-text");
  const button = element("button", { type: "button" });
  const notice = element("section", "auth-notice", text, button);
  notice.setAttribute("role", "alert");
  notice.hidden = true;
  document.getElementById("main")?.before(notice);
  let action = () => {};
  button.addEventListener("click", () => action());
  return {
    show(message, label, onClick) {
      text.textContent = message;
      button.textContent = label;
      action = onClick;
      notice.hidden = false;
    },
    hide() {
      notice.hidden = true;
    },
  };
}

// The header's user menu: who is signed in, and signing out.
function userMenu(manager, worker, channel, notice, revoke) {
  const name = element("span", "user-name");
  const signOut = element("button", { type: "button", className: "sign-out", textContent: "Sign out" });
  const menu = element("span", "user-menu", name, signOut);
  menu.hidden = true;
  document.querySelector("header.bar")?.append(menu);
  signOut.addEventListener("click", async () => {
    signOut.disabled = true;
    manager.stopSilentRenew(); // a renewal finishing now would sign the tab in again
    clearPreference("lastQuery"); // typed search terms may name patients
    worker.setAccessToken(null);
    channel?.postMessage("signed-out");
    // Revocation (RFC 7009) first. Its answer has no body to read, and some providers label
    // that empty body text/plain, which oidc-client-ts refuses: the tokens are revoked all
    // the same, and ending the provider session below must not wait on that.
    if (revoke) await manager.revokeTokens().catch(() => {});
    try {
      await manager.signoutRedirect();
    } catch (error) {
      notice.show(`Sign-out at the provider failed: ${error.message}`, "Try again", () => signOut.click());
      signOut.disabled = false;
    }
  });
  return {
    show(user) {
      const profile = user.profile ?? {};
      name.textContent = profile.name || profile.preferred_username || profile.email || profile.sub || "";
      menu.hidden = false;
    },
    hide() {
      menu.hidden = true;
    },
  };
}
