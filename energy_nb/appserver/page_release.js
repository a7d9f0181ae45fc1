/* energy_nb: tell the visitor when the server released this page's kernel for being idle.
   The app server closes the page's kernel WebSocket with code 4001 before it shuts an idle
   kernel down; this wrapper (inserted first in <head>, before Voila opens any socket) watches
   the kernel sockets for that code and shows a banner offering a reload. */
(function () {
  "use strict";
  var Native = window.WebSocket;
  if (!Native || window.__enbReleaseWatch) { return; }
  window.__enbReleaseWatch = true;
  var IDLE_CODE = 4001;
  var KERNEL_SOCKET = /\/api\/kernels\/[^/?]+\/channels/;

  function showReleased() {
    if (document.getElementById("enb-released")) { return; }
    var box = document.createElement("div");
    box.id = "enb-released";
    box.className = "enb-released";
    box.setAttribute("role", "alert");
    box.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:10000;padding:14px 20px;" +
      "background:#fff4e5;color:#4a2c00;border-bottom:2px solid #f0a020;font:15px/1.4 " +
      "system-ui,sans-serif;display:flex;gap:16px;align-items:center;justify-content:center;";
    var text = document.createElement("span");
    text.textContent = "This page was idle for __IDLE_TEXT__, so the server released it to make " +
      "room for others. Its charts no longer update. Reload the page to continue.";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "enb-reload";
    button.textContent = "Reload";
    button.style.cssText = "padding:6px 16px;font:inherit;cursor:pointer;border-radius:4px;" +
      "border:1px solid #b06d00;background:#fff;";
    button.addEventListener("click", function () { window.location.reload(); });
    box.appendChild(text);
    box.appendChild(button);
    (document.body || document.documentElement).appendChild(box);
  }

  class WatchedWebSocket extends Native {
    constructor(url, protocols) {
      if (protocols === undefined) { super(url); } else { super(url, protocols); }
      if (KERNEL_SOCKET.test(String(url))) {
        this.addEventListener("close", function (event) {
          if (event.code === IDLE_CODE) { showReleased(); }
        });
      }
    }
  }
  window.WebSocket = WatchedWebSocket;
})();
