// Start Swagger UI on this API's document. A file of its own, not an inline script: the page's
// Content-Security-Policy runs scripts from this origin only.
"use strict";

window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    // No badge from the public validator: nothing may leave this origin.
    validatorUrl: null,
  });
});
