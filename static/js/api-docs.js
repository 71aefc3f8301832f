// /api/docs/: starts Swagger UI on the API's schema. A file, not an inline script, so the page keeps the
// Content-Security-Policy; its settings come from the data- attributes of #swagger-ui.
"use strict";

(function () {
  const root = document.getElementById("swagger-ui");
  const { schemaUrl, csrfHeader, csrfToken } = root.dataset;

  window.ui = SwaggerUIBundle({
    url: schemaUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // "Try it out" from a logged-in browser writes with the session, which needs the CSRF token; a call
    // authorised with a bearer token ignores it.
    requestInterceptor: (request) => {
      if (request.method && request.method.toUpperCase() !== "GET") {
        request.headers[csrfHeader] = csrfToken;
      }
      return request;
    },
  });
})();
