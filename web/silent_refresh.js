// The provider sends the browser back here after a silent renewal (in an iframe of the app)
// or a sign-in popup; oidc-client-ts passes the answer (the URL) to the window that asked,
// which exchanges the code and keeps the tokens (web/auth.js). The settings are not used
// for that, but the library wants some.
"use strict";
{
  const manager = new oidc.UserManager({ authority: location.origin, client_id: "-", redirect_uri: location.href });
  if (window.opener && window.opener !== window) manager.signinPopupCallback();
  else manager.signinSilentCallback();
}
