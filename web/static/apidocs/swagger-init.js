// Starts Swagger UI on /docs (a file, not an inline script, so the page's Content
// Security Policy can say script-src 'self'). The document's URL is the body's data-openapi.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    showExtensions: true,
    showCommonExtensions: true,
  });
});
