// The browser workspace's only script: keeps the server-rendered page live (server-sent
// events carry changed messages as HTML, applied in place by their stable ids), sends
// what the person types or clicks, shows confirm dialogs and the /mesh command list.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("config").textContent);
  const messages = document.getElementById("messages");
  const threadPane = document.getElementById("thread-messages");
  const sidebar = document.getElementById("sidebar");
  const input = document.getElementById("compose");
  const hints = document.getElementById("hints");
  const dialog = document.getElementById("confirm");

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }
  function scrollDown(el) {
    el.scrollTop = el.scrollHeight;
  }

  function fromHTML(markup, digest) {
    const box = document.createElement("div");
    box.innerHTML = markup;
    const el = box.firstElementChild;
    el.dataset.h = digest;
    return el;
  }

  // items: [[id, hash, html-or-null], ...] in display order.
  function apply(container, items) {
    if (!container || !items) return;
    const follow = nearBottom(container);
    const wanted = new Set(items.map((item) => item[0]));
    for (const el of Array.from(container.children)) {
      if (el.id && !wanted.has(el.id)) el.remove();
    }
    const empty = container.querySelector(".empty");
    if (empty && items.length) empty.remove();
    let previous = null;
    for (const [id, digest, markup] of items) {
      let el = document.getElementById(id);
      if ((!el || el.dataset.h !== digest) && markup !== null) {
        const fresh = fromHTML(markup, digest);
        if (el) {
          el.replaceWith(fresh);
          fresh.classList.add("changed");
        }
        el = fresh;
      }
      if (!el) continue;
      const next = previous ? previous.nextElementSibling : container.firstElementChild;
      if (next !== el) container.insertBefore(el, next);
      previous = el;
    }
    if (follow) scrollDown(container);
  }

  function listen() {
    const params = new URLSearchParams({ as: config.as, channel: config.channel });
    if (config.thread) params.set("thread", config.thread);
    const source = new EventSource("/ui/events?" + params.toString());
    source.addEventListener("sync", (event) => {
      const update = JSON.parse(event.data);
      apply(messages, update.messages);
      apply(threadPane, update.thread);
      if (update.sidebar !== undefined) sidebar.innerHTML = update.sidebar;
      document.body.dataset.synced = String(Number(document.body.dataset.synced || 0) + 1);
    });
  }

  async function send(path, body) {
    const answer = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ as: config.as, channel: config.channel }, body)),
    });
    if (!answer.ok) {
      const data = await answer.json().catch(() => ({ error: answer.statusText }));
      throw new Error(data.error || "failed");
    }
  }

  // ---- buttons and confirm dialogs ------------------------------------------------------

  function confirmWith(spec) {
    return new Promise((resolve) => {
      dialog.querySelector(".title").textContent = spec.title;
      dialog.querySelector(".text").textContent = spec.text;
      const ok = dialog.querySelector(".ok");
      ok.textContent = spec.confirm;
      ok.className = "btn ok " + (spec.style === "danger" ? "btn-danger" : "btn-primary");
      dialog.querySelector(".deny").textContent = spec.deny;
      dialog.returnValue = "";
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
    });
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-block]");
    if (!button) return;
    const message = button.closest(".msg");
    if (button.dataset.confirm && !(await confirmWith(JSON.parse(button.dataset.confirm)))) return;
    if (button.dataset.url) window.open(button.dataset.url, "_blank", "noopener");
    button.classList.add("busy");
    try {
      await send("/ui/action", {
        ts: message.dataset.ts,
        block: Number(button.dataset.block),
        element: Number(button.dataset.element),
      });
    } catch (error) {
      button.title = "not delivered: " + error.message;
    } finally {
      button.classList.remove("busy");
    }
  });

  // ---- composer and the command list ------------------------------------------------------

  let selected = -1;
  function matches() {
    const text = input.value;
    const slash = config.slash;
    if (text.startsWith("/") && !text.includes(" ")) {
      return slash.startsWith(text) ? [{ fill: slash + " ", usage: slash + " …", summary: "meshbot commands" }] : [];
    }
    if (!text.startsWith(slash + " ")) return [];
    const typed = text.slice(slash.length + 1).replace(/^\s+/, "").toLowerCase();
    return config.commands
      .filter((c) => c.name.startsWith(typed) || typed.startsWith(c.name + " "))
      .map((c) => ({
        fill: slash + " " + c.name + " ",
        usage: slash + " " + c.usage,
        summary: c.summary.replace(/`/g, "") + " · " + c.role,
      }));
  }

  function showHints() {
    const found = matches();
    hints.innerHTML = "";
    if (!found.length) {
      hints.hidden = true;
      selected = -1;
      return;
    }
    selected = Math.min(Math.max(selected, 0), found.length - 1);
    found.forEach((hint, index) => {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.dataset.fill = hint.fill;
      if (index === selected) li.classList.add("selected");
      const usage = document.createElement("code");
      usage.textContent = hint.usage;
      const summary = document.createElement("span");
      summary.textContent = hint.summary;
      li.append(usage, summary);
      li.addEventListener("mousedown", (event) => {
        event.preventDefault();
        complete(hint.fill);
      });
      hints.append(li);
    });
    hints.hidden = false;
  }

  function complete(fill) {
    input.value = fill;
    input.focus();
    showHints();
  }

  input.addEventListener("input", () => {
    selected = 0;
    showHints();
  });
  input.addEventListener("keydown", (event) => {
    const options = hints.hidden ? [] : Array.from(hints.children);
    if (!options.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      selected = (selected + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      showHints();
    } else if (event.key === "Tab") {
      event.preventDefault();
      complete(options[selected].dataset.fill);
    } else if (event.key === "Enter" && !input.value.startsWith(options[selected].dataset.fill.trimEnd())) {
      event.preventDefault(); // like Slack: Enter picks the highlighted command first
      complete(options[selected].dataset.fill);
    } else if (event.key === "Escape") {
      hints.hidden = true;
    }
  });

  document.getElementById("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.disabled = true;
    hints.hidden = true;
    try {
      await send("/ui/command", { text: text });
      input.value = "";
    } catch (error) {
      input.setCustomValidity("not sent: " + error.message);
      input.reportValidity();
      input.setCustomValidity("");
    } finally {
      input.disabled = false;
      input.focus();
    }
  });

  // ---- navigation ---------------------------------------------------------------------------

  document.getElementById("as").addEventListener("change", (event) => {
    const params = new URLSearchParams(window.location.search);
    params.set("as", event.target.value);
    window.location.search = params.toString();
  });
  const menu = document.getElementById("menu");
  menu.addEventListener("click", () => {
    const open = document.body.classList.toggle("show-sidebar");
    menu.setAttribute("aria-expanded", String(open));
  });

  scrollDown(messages);
  scrollDown(threadPane);
  listen();
})();
