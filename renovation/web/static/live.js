// The ?screen=1 layout: ask the server for the log's head every second; reload when it has moved.
(function () {
  "use strict";
  var shown = document.body.getAttribute("data-head");
  var asking = false;
  setInterval(function () {
    if (asking) { return; }
    asking = true;
    fetch("/head", { cache: "no-store", credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (found) {
        asking = false;
        if (found && String(found.head) !== shown) { window.location.reload(); }
      })
      .catch(function () { asking = false; });
  }, 1000);
}());
