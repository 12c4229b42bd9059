/*
 * Cloud Doctor chat widget: one <script> tag, no dependencies.
 *
 *   <script src="https://doctor.example.com/static/widget.js"
 *           data-endpoint="https://doctor.example.com" data-token="..." data-env="staging"
 *           data-target="#doctor"></script>
 *
 * Without data-token the widget asks for a token (kept in sessionStorage).
 * Everything the server sends is put on the page with textContent: no HTML
 * from a report, an alert or a log line is ever interpreted.
 * `#cd-thread=<id>` in the page URL opens that run (for approval links).
 * A conversation goes on in its thread: what you type next answers the run's question, or follows up on it
 * ("why?", "do the same in prod"); "New" starts another thread.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var scriptUrl = new URL(script.src, document.baseURI);
  var endpoint = (script.dataset.endpoint || scriptUrl.origin).replace(/\/+$/, "");
  var TOKEN_KEY = "cd-token:" + endpoint;
  var state = { token: script.dataset.token || sessionStorage.getItem(TOKEN_KEY) || "", me: null, cards: {}, streams: {},
                current: null };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function loadCss() {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("widget.css", scriptUrl).href;
    document.head.appendChild(link);
  }

  // ------------------------------------------------------------ markdown
  function inline(parent, text) {
    var parts = String(text).split(/(\*\*[^*]+\*\*|`[^`]+`|^_[^_].*_$)/);
    parts.forEach(function (part) {
      if (!part) { return; }
      if (part.slice(0, 2) === "**" && part.slice(-2) === "**" && part.length > 4) {
        parent.appendChild(el("strong", null, part.slice(2, -2)));
      } else if (part[0] === "_" && part[part.length - 1] === "_" && part.length > 2) {
        parent.appendChild(el("em", null, part.slice(1, -1)));
      } else if (part[0] === "`" && part[part.length - 1] === "`" && part.length > 2) {
        parent.appendChild(el("code", null, part.slice(1, -1)));
      } else {
        parent.appendChild(document.createTextNode(part));
      }
    });
  }

  function renderMarkdown(markdown) {
    var root = el("div", "cd-md");
    var lines = String(markdown || "").split("\n");
    var code = null, list = null;
    lines.forEach(function (line) {
      if (line.slice(0, 3) === "```") {
        if (code) { root.appendChild(code.parentNode); code = null; }
        else { var pre = el("pre"); code = el("code"); pre.appendChild(code); }
        list = null;
        return;
      }
      if (code) { code.textContent += line + "\n"; return; }
      var heading = /^(#{1,4})\s+(.*)$/.exec(line);
      var item = /^(\s*)[-*]\s+(.*)$/.exec(line);
      if (heading) {
        var h = el("h" + Math.min(heading[1].length + 2, 6));
        inline(h, heading[2]); root.appendChild(h); list = null;
      } else if (item) {
        if (!list) { list = el("ul"); root.appendChild(list); }
        var li = el("li", item[1].length >= 2 ? "cd-sub" : null);
        inline(li, item[2]); list.appendChild(li);
      } else if (line.trim()) {
        var p = el("p"); inline(p, line); root.appendChild(p); list = null;
      } else { list = null; }
    });
    if (code) { root.appendChild(code.parentNode); }
    return root;
  }

  // ------------------------------------------------------------ api
  // A fetch that fails before any answer is either an unreachable server or a page whose origin the
  // server does not allow (CORS): a no-cors probe tells them apart, and the person reads which.
  function explainFailure(err) {
    if (!(err instanceof TypeError)) { return Promise.reject(err); }
    return fetch(endpoint + "/api/health", { mode: "no-cors" }).then(function () {
      throw new Error("this page (" + location.origin + ") is not allowed to use Cloud Doctor at " + endpoint +
        ": ask an admin to add " + location.origin + " to allowed_origins in config/web.yaml");
    }, function () {
      throw new Error("cannot reach Cloud Doctor at " + endpoint + "; check the address or try again later");
    });
  }

  function api(method, path, body) {
    var headers = { "Authorization": "Bearer " + state.token };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    return fetch(endpoint + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .catch(explainFailure)
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) { throw new Error(data.error || ("HTTP " + res.status)); }
          return data;
        });
      });
  }

  function parseSse(chunk, onEvent) {
    var event = { type: "message", data: "", id: null };
    chunk.split("\n").forEach(function (line) {
      if (line[0] === ":") { return; }
      var idx = line.indexOf(":");
      var field = idx < 0 ? line : line.slice(0, idx);
      var value = idx < 0 ? "" : line.slice(idx + 1).replace(/^ /, "");
      if (field === "event") { event.type = value; }
      else if (field === "data") { event.data += (event.data ? "\n" : "") + value; }
      else if (field === "id") { event.id = value; }
    });
    if (event.data) { onEvent(event); }
  }

  function stream(thread, lastId) {
    if (state.streams[thread] && state.streams[thread].open) { state.streams[thread].done = false; return; }
    var s = state.streams[thread] = state.streams[thread] || { open: false, lastId: 0, done: false };
    s.open = true;
    var headers = { "Authorization": "Bearer " + state.token, "Accept": "text/event-stream" };
    if (s.lastId) { headers["Last-Event-ID"] = String(s.lastId); }
    fetch(endpoint + "/api/runs/" + encodeURIComponent(thread) + "/events", { headers: headers }).then(function (res) {
      if (!res.ok) { return res.json().then(function (d) { throw new Error(d.error || ("HTTP " + res.status)); }); }
      var reader = res.body.getReader(), decoder = new TextDecoder(), buffer = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) { return; }
          buffer += decoder.decode(r.value, { stream: true }).replace(/\r\n/g, "\n");
          var cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            var chunk = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
            parseSse(chunk, function (ev) {
              if (ev.id) { s.lastId = parseInt(ev.id, 10) || s.lastId; }
              handle(thread, ev.type, JSON.parse(ev.data));
            });
          }
          return pump();
        });
      }
      return pump();
    }).then(function () {
      s.open = false;
      if (!s.done) { setTimeout(function () { stream(thread); }, 2000); }
    }, function (err) {
      s.open = false;
      say("cd-error", "events: " + err.message);
      if (!s.done && !/40[134]/.test(err.message)) { setTimeout(function () { stream(thread); }, 3000); }
    });
  }

  // ------------------------------------------------------------ ui
  var ui = {};

  function say(cls, text) {
    var bubble = el("div", "cd-msg " + cls, text);
    ui.log.appendChild(bubble);
    ui.log.scrollTop = ui.log.scrollHeight;
    return bubble;
  }

  function runBox(thread) {
    var card = state.cards[thread];
    if (card) { return card; }
    card = state.cards[thread] = { box: el("div", "cd-msg cd-run"), approvals: {} };
    card.box.dataset.thread = thread;
    var head = el("div", "cd-run-head", "run " + thread + " ");
    var link = el("a", "cd-link", "link");
    link.href = location.href.split("#")[0] + "#cd-thread=" + encodeURIComponent(thread);
    link.title = "share this link with an approver";
    head.appendChild(link);
    card.progress = el("details", "cd-progress");
    card.summary = el("summary", null, "working…");
    card.progress.appendChild(card.summary);
    card.steps = el("ol");
    card.progress.appendChild(card.steps);
    card.box.appendChild(head);
    card.box.appendChild(card.progress);
    ui.log.appendChild(card.box);
    return card;
  }

  function handle(thread, type, data) {
    var card = runBox(thread);
    if (type === "progress") {
      card.steps.appendChild(el("li", null, data.text));
      card.summary.textContent = "working… (" + card.steps.children.length + " steps)";
    } else if (type === "reply") {
      card.box.appendChild(el("div", "cd-reply", data.user + ": " + data.text));
    } else if (type === "report") {
      var report = el("div", "cd-report cd-status-" + data.status);
      report.appendChild(el("div", "cd-headline", data.status.replace(/_/g, " ") + ": " + data.headline));
      if (data.question) {
        report.appendChild(el("div", "cd-question", "❓ " + data.question));
        if (state.current === thread) { ui.text.placeholder = "Answer the question (it goes on in this thread)…"; }
      } else if (state.current === thread) {
        ui.text.placeholder = "Follow up in this thread (\"why?\", \"do the same in prod\"), or press New";
      }
      if (data.markdown) {
        var full = el("details", "cd-full");
        full.appendChild(el("summary", null, "full report"));
        full.appendChild(renderMarkdown(data.markdown.replace(/^## .*\n+/, "")));
        report.appendChild(full);
      }
      card.box.appendChild(report);
    } else if (type === "approval") {
      card.summary.textContent = "waiting for approval (" + card.steps.children.length + " steps)";
      approvalCard(thread, card, data);
    } else if (type === "decision") {
      card.box.appendChild(el("div", "cd-decision", (data.approved ? "✔ approved by " : "✖ rejected by ") + data.user +
        " (" + data.role + ")" + (data.still_needed ? " — still needed: " + data.still_needed : "")));
    } else if (type === "error") {
      card.box.appendChild(el("div", "cd-error", data.message));
    } else if (type === "done") {
      state.streams[thread].done = true;
      card.summary.textContent = "finished: " + data.status.replace(/_/g, " ") + " (" + card.steps.children.length + " steps)";
      if (!data.waiting) {  // a follow-up answered beside a waiting approval leaves the approval open
        Object.keys(card.approvals).forEach(function (id) { card.approvals[id].close(data.status); });
      }
    }
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function approvalCard(thread, card, view) {
    var existing = card.approvals[view.request_id];
    if (existing) { existing.refresh(view); return; }
    var box = el("div", "cd-approval");
    box.appendChild(el("div", "cd-approval-title", "Approval needed (" + view.environment + ", risk " + view.risk + ")"));
    var fields = el("dl");
    [["What", view.action], ["Why", view.reason], ["Cost", view.cost], ["Rollback", view.rollback]].forEach(function (f) {
      fields.appendChild(el("dt", null, f[0])); fields.appendChild(el("dd", null, f[1]));
    });
    var needed = el("dd", "cd-needed");
    fields.appendChild(el("dt", null, "Still needed")); fields.appendChild(needed);
    box.appendChild(fields);
    var controls = el("div", "cd-controls");
    var role = el("select", "cd-role");
    var confirm = el("input", "cd-confirm");
    confirm.placeholder = "type " + view.confirmation + " to confirm";
    confirm.setAttribute("aria-label", "This destroys " + view.confirmation + ". Type its name to approve.");
    var reason = el("input", "cd-reason");
    reason.placeholder = "reason (optional)";
    var approve = el("button", "cd-approve", "Approve");
    var reject = el("button", "cd-reject", "Reject");
    var note = el("div", "cd-note");
    controls.appendChild(role);
    if (view.confirmation) {
      controls.appendChild(el("div", "cd-confirm-note", "This destroys " + view.confirmation + ". Type its name to approve."));
      controls.appendChild(confirm);
    }
    controls.appendChild(reason);
    controls.appendChild(approve);
    controls.appendChild(reject);
    box.appendChild(controls);
    box.appendChild(note);
    card.box.appendChild(box);

    function refresh(v) {
      needed.textContent = v.still_needed + (v.why && v.why.length ? " (" + v.why.join("; ") + ")" : "");
      while (role.firstChild) { role.removeChild(role.firstChild); }
      var mine = (state.me ? state.me.roles : []).filter(function (r) { return v.roles.indexOf(r) >= 0; });
      mine.forEach(function (r) { role.appendChild(el("option", null, r)); });
      role.hidden = mine.length < 2;
      var own = state.me && v.requested_by_id === state.me.id && !v.self_approval;
      approve.disabled = mine.length === 0 || v.blocked.length > 0 || own;
      approve.title = "";
      if (v.blocked.length) { note.textContent = "blocked: " + v.blocked.join("; ") + (v.unblock_hint ? " — " + v.unblock_hint : ""); }
      else if (own) {
        note.textContent = "you asked for this change, so you cannot approve it (the policy does not allow self-approval); " +
          "share the run link with someone who holds " + v.roles.join(" or ");
      }
      else if (!mine.length) { note.textContent = "your roles cannot approve this; share the run link with someone who holds " + v.roles.join(" or "); }
      approve.title = note.textContent;
    }
    function decide(approved) {
      approve.disabled = reject.disabled = true;
      note.textContent = approved ? "approving…" : "rejecting…";
      var body = { approved: approved, reason: reason.value };
      if (approved && role.value) { body.role = role.value; }
      if (view.confirmation) { body.confirmation = confirm.value; }
      api("POST", "/api/runs/" + encodeURIComponent(thread) + "/decisions", body).then(function (run) {
        note.textContent = "recorded: " + run.status.replace(/_/g, " ");
        reject.disabled = run.status !== "awaiting_approval";
        approve.disabled = run.status !== "awaiting_approval";
      }, function (err) {
        note.textContent = "refused: " + err.message;
        approve.disabled = reject.disabled = false;
      });
    }
    approve.addEventListener("click", function () { decide(true); });
    reject.addEventListener("click", function () { decide(false); });
    card.approvals[view.request_id] = {
      refresh: refresh,
      close: function (status) {
        approve.disabled = reject.disabled = true;
        box.classList.add("cd-closed");
        note.textContent = "closed: " + status.replace(/_/g, " ");
      },
    };
    refresh(view);
  }

  // `/deployments [env]` and `/rollback <deployment> <why>`: the deployments desk, the same store as the CLI and Slack.
  function deskCommand(text) {
    var words = text.split(/\s+/);
    if (words[0] === "/deployments") {
      var env = words[1] ? "?env=" + encodeURIComponent(words[1]) : "";
      api("GET", "/api/deployments" + env).then(function (listing) {
        var lines = [];
        listing.active.concat(listing.recent.slice(0, 10)).forEach(function (r) {
          lines.push(r.id + "  " + r.environment + "  " + r.service + " " + r.previous_version + " → " + r.version +
                     "  (" + r.strategy + ", " + r.status + (r.stage ? ", stage " + r.stage : "") + ")");
        });
        var s = listing.statistics;
        lines.push(s.rollbacks + " rollbacks (" + s.automatic_rollbacks + " automatic, " + s.manual_rollbacks + " manual, " +
                   s.verified_rollbacks + " verified)");
        say("cd-bot", lines.length > 1 ? lines.join("\n") : "no deployments recorded yet\n" + lines[0]);
      }, function (err) { say("cd-error", err.message); });
      return true;
    }
    if (words[0] === "/rollback") {
      if (words.length < 3) { say("cd-error", "usage: /rollback <deployment id> <why>"); return true; }
      api("POST", "/api/deployments/" + encodeURIComponent(words[1]) + "/rollback", { reason: words.slice(2).join(" ") }).then(function (run) {
        runBox(run.thread_id);
        follow(run.thread_id);
        stream(run.thread_id);
      }, function (err) { say("cd-error", err.message); });
      return true;
    }
    return false;
  }

  function follow(thread) {
    state.current = thread;
    ui.thread.textContent = thread ? "in thread " + thread : "";
    ui.fresh.hidden = !thread;
  }

  function send(event) {
    event.preventDefault();
    var text = ui.text.value.trim();
    if (!text) { return; }
    if (ui.empty && ui.empty.parentNode) { ui.empty.parentNode.removeChild(ui.empty); }
    ui.text.value = "";
    if (text[0] === "/") {  // the deployments desk answers here, in no thread
      say("cd-user", text);
      if (deskCommand(text)) { return; }
    }
    var thread = state.current;
    if (thread) {  // the same conversation: an answer, or a follow-up (the run's card shows it when it arrives)
      api("POST", "/api/runs/" + encodeURIComponent(thread) + "/messages", { text: text }).then(function () {
        if (state.streams[thread]) { state.streams[thread].done = false; }
        stream(thread);
      }, function (err) { say("cd-error", err.message); });
      return;
    }
    if (text[0] !== "/") { say("cd-user", text + "  [" + ui.env.value + "]"); }
    api("POST", "/api/runs", { text: text, env: ui.env.value }).then(function (run) {
      runBox(run.thread_id);
      follow(run.thread_id);
      stream(run.thread_id);
    }, function (err) { say("cd-error", err.message); });
  }

  function signIn(token) {
    state.token = token;
    return api("GET", "/api/me").then(function (me) {
      state.me = me;
      sessionStorage.setItem(TOKEN_KEY, token);
      ui.who.textContent = me.name + " (" + (me.roles.join(", ") || "no roles") + ")";
      ui.login.hidden = true;
      ui.form.hidden = false;
      var m = /#cd-thread=([^&]+)/.exec(location.hash);
      if (m) { var thread = decodeURIComponent(m[1]); runBox(thread); follow(thread); stream(thread); }
    }, function (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      ui.login.hidden = false;
      ui.form.hidden = true;
      say("cd-error", "sign-in failed: " + err.message);
    });
  }

  function emptyState() {
    var box = el("div", "cd-empty");
    box.appendChild(el("p", "cd-empty-title", "Ask about an incident or a change to your infrastructure."));
    var list = el("ul");
    ["web2 memory keeps growing, OOM killer fired (prod)", "add one node to the staging EKS cluster",
     "how much does dev cost per month?"].forEach(function (example) { list.appendChild(el("li", null, example)); });
    box.appendChild(list);
    box.appendChild(el("p", "cd-empty-note", "I diagnose with read-only, guarded commands and ask the right people before anything changes."));
    return box;
  }

  var OPEN_KEY = "cd-open:" + endpoint;

  function setOpen(root, launcher, open) {
    root.hidden = !open;
    launcher.hidden = open;
    launcher.setAttribute("aria-expanded", String(open));
    sessionStorage.setItem(OPEN_KEY, open ? "1" : "0");
    if (open && ui.text && !ui.form.hidden) { ui.text.focus(); }
  }

  function build() {
    loadCss();
    var target = script.dataset.target ? document.querySelector(script.dataset.target) : null;
    var root = el("section", "cd-widget" + (target ? " cd-inline" : " cd-floating"));
    root.setAttribute("aria-label", "Cloud Doctor");
    var header = el("header", "cd-header");
    header.appendChild(el("span", "cd-title", "Cloud Doctor"));
    ui.who = el("span", "cd-who");
    header.appendChild(ui.who);
    ui.log = el("div", "cd-log");
    ui.log.setAttribute("role", "log");
    ui.empty = emptyState();
    ui.log.appendChild(ui.empty);
    var launcher = null;
    if (!target) {
      launcher = el("button", "cd-launcher", "Cloud Doctor");
      launcher.type = "button";
      launcher.setAttribute("aria-label", "Open Cloud Doctor");
      var minimize = el("button", "cd-minimize", "–");
      minimize.type = "button";
      minimize.title = "Minimize";
      minimize.setAttribute("aria-label", "Minimize Cloud Doctor");
      header.appendChild(minimize);
      launcher.addEventListener("click", function () { setOpen(root, launcher, true); });
      minimize.addEventListener("click", function () { setOpen(root, launcher, false); });
    }
    ui.login = el("form", "cd-login");
    var tokenInput = el("input", "cd-token");
    tokenInput.type = "password";
    tokenInput.placeholder = "access token";
    tokenInput.autocomplete = "off";
    ui.login.appendChild(tokenInput);
    ui.login.appendChild(el("button", null, "Sign in"));
    ui.login.addEventListener("submit", function (e) { e.preventDefault(); signIn(tokenInput.value.trim()); });
    ui.form = el("form", "cd-form");
    ui.env = el("select", "cd-env");
    ["dev", "staging", "prod"].forEach(function (env) {
      var opt = el("option", null, env);
      if (env === (script.dataset.env || "dev")) { opt.selected = true; }
      ui.env.appendChild(opt);
    });
    ui.text = el("textarea", "cd-text");
    ui.text.placeholder = "What is wrong, or what do you need? e.g. \"web2 memory keeps growing\"";
    ui.text.rows = 2;
    ui.text.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { send(e); } });
    ui.thread = el("span", "cd-thread");
    ui.fresh = el("button", "cd-new", "New");
    ui.fresh.type = "button";
    ui.fresh.title = "start a new conversation (a new thread)";
    ui.fresh.hidden = true;
    ui.fresh.addEventListener("click", function () { follow(null); ui.text.placeholder = "What is wrong, or what do you need?"; ui.text.focus(); });
    ui.form.appendChild(ui.env);
    ui.form.appendChild(ui.text);
    ui.form.appendChild(el("button", "cd-send", "Send"));
    ui.form.appendChild(ui.fresh);
    ui.form.appendChild(ui.thread);
    ui.form.addEventListener("submit", send);
    ui.form.hidden = true;
    root.appendChild(header);
    root.appendChild(ui.log);
    root.appendChild(ui.login);
    root.appendChild(ui.form);
    (target || document.body).appendChild(root);
    if (launcher) {
      document.body.appendChild(launcher);
      setOpen(root, launcher, sessionStorage.getItem(OPEN_KEY) === "1" || /#cd-thread=/.test(location.hash));
    }
    if (state.token) { ui.login.hidden = true; signIn(state.token); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", build); } else { build(); }
})();
