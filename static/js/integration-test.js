// "Test" on the integration forms: check the unsaved values without leaving the page, so what was typed (secrets
// included) stays in the form. Without this script the button submits to the same URL and the page comes back.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || !button.dataset.testUrl) {
      return;
    }
    event.preventDefault();
    var form = event.target;
    var result = document.getElementById("test-result");
    result.className = "test-result";
    result.textContent = "Testing…";
    button.disabled = true;
    fetch(button.dataset.testUrl, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (answer) {
        result.className = "test-result " + (answer.ok ? "passed" : "failed");
        result.textContent = (answer.ok ? "Test passed: " : "Test failed: ") + answer.detail + " Nothing was saved.";
      })
      .catch(function () {
        result.className = "test-result failed";
        result.textContent = "The test could not be run. Try again.";
      })
      .finally(function () {
        button.disabled = false;
      });
  });
})();
