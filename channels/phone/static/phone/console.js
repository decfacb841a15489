// Progressive enhancement for the console: forms and links inside it load without a full
// page reload (the server answers with the same HTML it would for a normal request, and
// only <main id="console"> is swapped). Without JavaScript everything works the same.
(function () {
  "use strict";
  var main = function () { return document.getElementById("console"); };

  function focusAfterSwap() {
    var target = document.querySelector("#console [autofocus]") ||
      document.getElementById("flash") || document.querySelector("#console h1");
    if (target) { target.focus(); }
  }

  function swap(html, url, push) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("console");
    if (!fresh) { window.location.assign(url); return; }
    main().replaceWith(document.importNode(fresh, true));
    // The console's menu marks the page it is on (aria-current) and lives outside #console.
    var menu = document.querySelector(".area-nav"), freshMenu = doc.querySelector(".area-nav");
    if (menu && freshMenu) { menu.replaceWith(document.importNode(freshMenu, true)); }
    document.title = doc.title;
    if (push) { history.pushState({}, "", url); }
    var hash = url.indexOf("#") >= 0 ? url.slice(url.indexOf("#") + 1) : "";
    var anchor = hash && document.getElementById(hash);
    if (anchor) { anchor.scrollIntoView(); } else { window.scrollTo(0, 0); }
    focusAfterSwap();
  }

  function load(url, options, push) {
    document.body.setAttribute("aria-busy", "true");
    return fetch(url, Object.assign({ credentials: "same-origin", headers: { "X-Requested-With": "fetch" } }, options))
      .then(function (response) {
        if (response.redirected && response.url.indexOf("/phone/login/") >= 0) {
          window.location.assign(response.url); return;
        }
        var finalUrl = response.url + (url.indexOf("#") >= 0 && response.url.indexOf("#") < 0 ? url.slice(url.indexOf("#")) : "");
        return response.text().then(function (html) { swap(html, finalUrl, push); });
      })
      .catch(function () { window.location.assign(url); })
      .finally(function () { document.body.removeAttribute("aria-busy"); });
  }

  function sameConsole(url) {
    var a = document.createElement("a"); a.href = url;
    return a.origin === window.location.origin && a.pathname.indexOf("/phone/") === 0 &&
      a.pathname.indexOf("/phone/login/") !== 0 && a.pathname.indexOf(".csv") < 0;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.closest("#console")) { return; }
    var action = form.getAttribute("action") || window.location.href;
    if (!sameConsole(action)) { return; }
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) { data.append(event.submitter.name, event.submitter.value); }
    if ((form.method || "get").toLowerCase() === "post") {
      load(action, { method: "POST", body: data }, true);
    } else {
      var url = new URL(action, window.location.href);
      url.search = new URLSearchParams(data).toString();
      load(url.toString(), {}, true);
    }
  });

  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element && event.target.closest("#console a[href]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || link.target) { return; }
    if (!sameConsole(link.href)) { return; }
    event.preventDefault();
    load(link.href, {}, true);
  });

  window.addEventListener("popstate", function () { load(window.location.href, {}, false); });

  // "/" jumps to the search box from anywhere (as in many web apps). On a read-back page
  // (booking, change, cancel) Escape goes back without doing anything: its link is marked
  // data-escape, and is the same link a mouse or a browser without JavaScript uses.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var back = document.querySelector("#console a[data-escape]");
      if (back) { event.preventDefault(); back.click(); return; }
    }
    var typing = event.target instanceof HTMLElement &&
      (event.target.tagName === "INPUT" || event.target.tagName === "TEXTAREA");
    if (event.key === "/" && !typing) {
      var q = document.getElementById("q");
      if (q) { event.preventDefault(); q.focus(); q.select(); }
      else { event.preventDefault(); load("/phone/", {}, true); }
    }
  });
})();
