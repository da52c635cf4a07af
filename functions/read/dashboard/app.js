// Beacon's dashboard: a static page over the read API's insight routes (docs/DASHBOARD.md).
// The client's id and secret live in sessionStorage only (no persistent storage, no cookie, no log); the page calls the
// API relative to its own URL (…/dashboard/ → …/insights/*), same origin, so no CORS and a CSP of 'self'.
"use strict";

(function () {
  const STORE = "beacon.dashboard.login";
  const LIVE_EVERY_MS = 30000;
  const TOPS = [
    ["path", "Top pages"],
    ["entryPath", "Entry pages"],
    ["exitPath", "Exit pages"],
    ["referrerName", "Referrers"],
    ["referrerType", "Referrer types"],
    ["utm_source", "UTM sources"],
    ["utm_campaign", "UTM campaigns"],
    ["country", "Countries"],
    ["device", "Devices"],
    ["browser", "Browsers"],
    ["os", "Operating systems"],
    ["name", "Events"],
  ];
  const $ = (id) => document.getElementById(id);
  const numbers = new Intl.NumberFormat(undefined);
  const percents = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
  const changes = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0, signDisplay: "exceptZero" });
  const dates = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  const times = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });
  // Day buckets are UTC days (the range is asked in UTC): their ticks say the day, never an hour
  const days = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
  const DAY = 86400;
  let login = null;
  let chart = null;
  let liveTimer = null;
  let generation = 0; // answers of an older range are dropped

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function explain(error) {
    const status = error.status;
    if (status === 401) return "Wrong client id or secret (401). Log in again.";
    if (status === 403) {
      if (/read or root client/.test(error.message)) {
        return "This is a write client: it can send events but not read them. Log in with a read or root client.";
      }
      return "This client may not read that project (403). Check the project id.";
    }
    if (status === 404) return error.message || "Not found (404).";
    if (status === 429) return "Too many requests (429): the client's rate limit was reached. Wait a moment and retry.";
    if (status === 503) return "The service is unavailable right now (503). Try again in a minute.";
    if (status === 400) return "The request was refused: " + error.message;
    if (status === 0) return "The API cannot be reached. Check your connection.";
    return "Something went wrong (" + status + "): " + error.message;
  }

  async function api(path, params) {
    const query = new URLSearchParams({ projectId: login.projectId, ...(params || {}) });
    let response;
    try {
      response = await fetch("../" + path + "?" + query.toString(), {
        headers: { "openpanel-client-id": login.clientId, "openpanel-client-secret": login.clientSecret },
        credentials: "omit",
        cache: "no-store",
      });
    } catch (_) {
      throw new ApiError(0, "network error");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      throw new ApiError(response.status, (body && body.error) || response.statusText);
    }
    return body;
  }

  // -- login ---------------------------------------------------------------------------------------------------
  function fromFragment() {
    if (!location.hash || location.hash.length < 2) return null;
    const values = new URLSearchParams(location.hash.slice(1));
    // The fragment never reached a server; remove it from the address bar (and the history entry) at once.
    history.replaceState(null, "", location.pathname + location.search);
    const given = { projectId: values.get("projectId"), clientId: values.get("clientId"), clientSecret: values.get("clientSecret") };
    return given.projectId && given.clientId && given.clientSecret ? given : null;
  }

  function showLogin(message) {
    stopLive();
    login = null;
    sessionStorage.removeItem(STORE);
    $("dashboard").hidden = true;
    $("live").hidden = true;
    $("logout").hidden = true;
    $("project-name").textContent = "";
    setStatus("");
    $("login").hidden = false;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
    $("login-secret").value = "";
    $((message && $("login-project").value) ? "login-secret" : "login-project").focus();
  }

  async function enter(given) {
    login = given;
    $("login-project").value = given.projectId;
    $("login-client").value = given.clientId;
    setStatus("Checking the client…");
    try {
      await api("insights/live"); // cheap (DynamoDB), and says whether this client may read the project
    } catch (error) {
      // Wrong credentials or a client that may not read: back to the login. A 429 / 503 / network failure is
      // not the person's fault: the dashboard opens and says so where the figures would be.
      if ([401, 403].includes(error.status)) return showLogin(explain(error));
    }
    sessionStorage.setItem(STORE, JSON.stringify(given));
    $("login").hidden = true;
    $("dashboard").hidden = false;
    $("logout").hidden = false;
    $("project-name").textContent = "Project " + given.projectId;
    startLive();
    refresh();
  }

  // -- range ---------------------------------------------------------------------------------------------------
  function utc(date) {
    return date.toISOString().slice(0, 23); // UTC without an offset, as the API reads it
  }

  function localDay(value) {
    const [y, m, d] = value.split("-").map(Number);
    return new Date(y, m - 1, d);
  }

  function currentRange() {
    const now = new Date();
    const choice = $("range").value;
    let start;
    let end = now;
    if (choice === "today") {
      start = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    } else if (choice === "30d") {
      start = new Date(now.getTime() - 30 * 86400000);
    } else if (choice === "custom" && $("custom-start").value && $("custom-end").value) {
      start = localDay($("custom-start").value);
      end = localDay($("custom-end").value);
      end.setDate(end.getDate() + 1);
    } else {
      start = new Date(now.getTime() - 7 * 86400000);
    }
    return { start: utc(start), end: utc(end), interval: $("interval").value };
  }

  function setStatus(text, isError) {
    $("status").textContent = text;
    $("status").classList.toggle("error-state", Boolean(isError));
  }

  function failed(error) {
    if (error.status === 401 || (error.status === 403 && /read or root client/.test(error.message))) {
      showLogin(explain(error));
      return true;
    }
    setStatus(explain(error), true);
    return false;
  }

  // -- overview and chart --------------------------------------------------------------------------------------
  function formatDuration(seconds) {
    if (seconds < 60) return numbers.format(Math.round(seconds)) + " s";
    const minutes = Math.floor(seconds / 60);
    return numbers.format(minutes) + " min " + numbers.format(Math.round(seconds % 60)) + " s";
  }

  const FIGURES = {
    visitors: (v) => numbers.format(v),
    sessions: (v) => numbers.format(v),
    screenViews: (v) => numbers.format(v),
    bounceRate: (v) => percents.format(v),
    avgSessionDuration: formatDuration,
  };

  function showOverview(answer, range) {
    for (const [key, format] of Object.entries(FIGURES)) {
      const figure = $("fig-" + key);
      figure.textContent = format(answer[key]);
      figure.dataset.value = String(answer[key]);
      const change = $("chg-" + key);
      const before = answer.previous ? answer.previous[key] : null;
      change.className = "change";
      if (before === null || before === undefined) {
        change.textContent = "";
      } else if (before === 0) {
        change.textContent = answer[key] === 0 ? "no change" : "new vs. previous period";
      } else {
        const ratio = (answer[key] - before) / before;
        change.textContent = changes.format(ratio) + " vs. previous period";
        // A falling bounce rate is the good direction
        const good = key === "bounceRate" ? ratio < 0 : ratio > 0;
        if (ratio !== 0) change.classList.add(good ? "up" : "down");
      }
    }
    showChart(answer.series, range);
  }

  function color(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  }

  function showChart(series, range) {
    const box = $("chart");
    $("chart-empty").hidden = series.length > 0;
    box.hidden = series.length === 0;
    if (chart) {
      chart.destroy();
      chart = null;
    }
    if (!series.length || typeof uPlot === "undefined") return;
    const data = [
      series.map((p) => Date.parse(p.t) / 1000),
      series.map((p) => p.visitors),
      series.map((p) => p.sessions),
      series.map((p) => p.screenViews),
    ];
    const axis = { stroke: color("--muted"), grid: { stroke: color("--line") }, ticks: { stroke: color("--line") } };
    chart = new uPlot(
      {
        width: Math.max(box.clientWidth, 280),
        height: 240,
        series: [
          {},
          { label: "Visitors", stroke: color("--s1"), width: 2, value: (_, v) => (v == null ? "–" : numbers.format(v)) },
          { label: "Sessions", stroke: color("--s2"), width: 2, value: (_, v) => (v == null ? "–" : numbers.format(v)) },
          { label: "Page views", stroke: color("--s3"), width: 2, value: (_, v) => (v == null ? "–" : numbers.format(v)) },
        ],
        axes: [
          range.interval === "day"
            ? { ...axis, incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY], values: (_, ticks) => ticks.map((t) => days.format(new Date(t * 1000))) }
            : axis,
          { ...axis, values: (_, ticks) => ticks.map((v) => numbers.format(v)) },
        ],
        scales: {
          // The asked range, whole: a lone point sits where it happened, not in a scale of its own
          x: { time: true, range: () => [Date.parse(range.start + "Z") / 1000, Date.parse(range.end + "Z") / 1000] },
          y: { range: (_, min, max) => [0, Math.max(1, max)] },
        },
      },
      data,
      box,
    );
  }

  // -- ranked lists --------------------------------------------------------------------------------------------
  function buildTops() {
    const grid = $("tops");
    for (const [dimension, title] of TOPS) {
      const card = document.createElement("section");
      card.className = "card";
      card.id = "top-" + dimension;
      card.setAttribute("aria-labelledby", "top-title-" + dimension);
      const heading = document.createElement("h2");
      heading.id = "top-title-" + dimension;
      heading.textContent = title;
      const list = document.createElement("ol");
      list.className = "ranked";
      card.append(heading, list);
      grid.append(card);
    }
  }

  function showTop(dimension, answer) {
    const list = document.querySelector("#top-" + dimension + " ol");
    list.replaceChildren();
    if (!answer.data.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "Nothing in this range.";
      list.append(empty);
      return;
    }
    for (const row of answer.data) {
      const item = document.createElement("li");
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = row.value;
      const count = document.createElement("span");
      count.className = "count";
      count.dataset.value = String(row.count);
      count.textContent = numbers.format(row.count);
      count.title = numbers.format(row.visitors) + " visitors";
      item.append(value, count);
      list.append(item);
    }
    if (dimension === "name") {
      const names = $("event-names");
      names.replaceChildren(...answer.data.map((row) => new Option(row.value)));
    }
  }

  function loadingTops() {
    for (const [dimension] of TOPS) {
      const list = document.querySelector("#top-" + dimension + " ol");
      const item = document.createElement("li");
      item.className = "muted";
      item.textContent = "Loading…";
      list.replaceChildren(item);
    }
  }

  // -- refresh -------------------------------------------------------------------------------------------------
  async function refresh() {
    const mine = ++generation;
    const range = currentRange();
    setStatus("Loading…");
    loadingTops();
    const started = performance.now();
    try {
      const overview = await api("insights/overview", range);
      if (mine !== generation) return;
      showOverview(overview, range);
      window.beaconOverviewRenderMs = performance.now() - started; // read by the browser test (a figure, not a gate)
      document.body.dataset.overviewRendered = String(mine);
      const tops = await Promise.all(
        TOPS.map(([dimension]) => api("insights/top", { start: range.start, end: range.end, dimension, limit: "10" })),
      );
      if (mine !== generation) return;
      TOPS.forEach(([dimension], index) => showTop(dimension, tops[index]));
      setStatus(overview.events === 0 ? "No events in this range yet." : "");
      document.body.dataset.loaded = String(mine);
      loadRetention();
    } catch (error) {
      if (mine === generation) failed(error);
    }
  }

  // -- live ----------------------------------------------------------------------------------------------------
  async function live() {
    try {
      const answer = await api("insights/live");
      $("live-count").textContent = numbers.format(answer.visitors);
      $("live-count").dataset.value = String(answer.visitors);
      $("live-noun").textContent = answer.visitors === 1 ? "visitor" : "visitors";
      $("live").hidden = false;
    } catch (error) {
      if (error.status === 401) return showLogin(explain(error));
      $("live").hidden = true;
    }
  }

  function startLive() {
    stopLive();
    live();
    liveTimer = setInterval(live, LIVE_EVERY_MS);
  }

  function stopLive() {
    if (liveTimer) clearInterval(liveTimer);
    liveTimer = null;
  }

  // -- funnel --------------------------------------------------------------------------------------------------
  async function buildFunnel(event) {
    event.preventDefault();
    const steps = $("funnel-steps").value.split(",").map((s) => s.trim()).filter(Boolean);
    const table = $("funnel-table");
    const problem = $("funnel-error");
    if (steps.length < 2 || steps.length > 5) {
      problem.textContent = "Give 2 to 5 event names, separated by commas.";
      problem.hidden = false;
      table.hidden = true;
      return;
    }
    problem.hidden = true;
    const range = currentRange();
    const body = table.querySelector("tbody");
    body.replaceChildren();
    table.hidden = true;
    $("funnel-form").setAttribute("aria-busy", "true");
    try {
      const answer = await api("insights/funnel", { start: range.start, end: range.end, steps: steps.join(",") });
      for (const step of answer.steps) {
        const row = document.createElement("tr");
        const name = document.createElement("td");
        name.textContent = step.name;
        const count = document.createElement("td");
        count.textContent = numbers.format(step.count);
        count.dataset.value = String(step.count);
        const conversion = document.createElement("td");
        conversion.textContent = percents.format(step.conversion);
        row.append(name, count, conversion);
        body.append(row);
      }
      table.hidden = false;
    } catch (error) {
      if (!failed(error)) {
        problem.textContent = explain(error);
        problem.hidden = false;
      }
    } finally {
      $("funnel-form").removeAttribute("aria-busy");
    }
  }

  // -- retention -----------------------------------------------------------------------------------------------
  async function loadRetention(event) {
    if (event) event.preventDefault();
    const range = currentRange();
    const table = $("retention-table");
    try {
      const answer = await api("insights/retention", { start: range.start, end: range.end, period: $("retention-period").value });
      table.replaceChildren();
      $("retention-empty").hidden = answer.cohorts.length > 0;
      if (!answer.cohorts.length) return;
      const width = Math.max(...answer.cohorts.map((c) => c.retention.length));
      const head = table.createTHead().insertRow();
      for (const title of ["Cohort", "Visitors", ...Array.from({ length: width }, (_, k) => (answer.period === "day" ? "Day " : "Week ") + k)]) {
        const cell = document.createElement("th");
        cell.scope = "col";
        cell.textContent = title;
        head.append(cell);
      }
      const body = table.createTBody();
      for (const cohort of answer.cohorts) {
        const row = body.insertRow();
        const name = document.createElement("th");
        name.scope = "row";
        name.textContent = dates.format(localDay(cohort.cohort));
        row.append(name);
        row.insertCell().textContent = numbers.format(cohort.visitors);
        for (let k = 0; k < width; k++) {
          const cell = row.insertCell();
          cell.className = "cell";
          if (k < cohort.retention.length) {
            const share = cohort.retention[k];
            cell.textContent = percents.format(share);
            cell.classList.add("h" + Math.min(5, Math.ceil(share * 5)));
          }
        }
      }
    } catch (error) {
      failed(error);
    }
  }

  // -- profile -------------------------------------------------------------------------------------------------
  async function openProfile(event) {
    event.preventDefault();
    const id = $("profile-id").value.trim();
    const list = $("profile-events");
    const status = $("profile-status");
    list.replaceChildren();
    if (!id) {
      status.textContent = "Type a profile id.";
      return;
    }
    status.textContent = "Loading…";
    try {
      const page = await api("profile/" + encodeURIComponent(id) + "/events", { limit: "50" });
      status.textContent = page.data.length
        ? numbers.format(page.data.length) + " most recent events of " + id + ", newest first"
        : "No events for profile " + id + ".";
      for (const item of page.data) {
        const entry = document.createElement("li");
        const when = document.createElement("time");
        when.dateTime = item.createdAt;
        when.textContent = times.format(new Date(item.createdAt));
        const name = document.createElement("strong");
        name.textContent = item.name;
        entry.append(when, name);
        if (item.path) entry.append(" " + item.path);
        list.append(entry);
      }
    } catch (error) {
      if (!failed(error)) status.textContent = explain(error);
    }
  }

  // -- wiring --------------------------------------------------------------------------------------------------
  function start() {
    buildTops();
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      enter({
        projectId: $("login-project").value.trim(),
        clientId: $("login-client").value.trim(),
        clientSecret: $("login-secret").value,
      });
    });
    $("logout").addEventListener("click", () => showLogin(""));
    $("range").addEventListener("change", () => {
      $("custom-range").hidden = $("range").value !== "custom";
      $("interval").value = $("range").value === "today" ? "hour" : "day";
      if ($("range").value !== "custom") refresh();
    });
    $("interval").addEventListener("change", refresh);
    $("range-form").addEventListener("submit", (event) => {
      event.preventDefault();
      refresh();
    });
    $("funnel-form").addEventListener("submit", buildFunnel);
    $("retention-form").addEventListener("submit", loadRetention);
    $("profile-form").addEventListener("submit", openProfile);
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => chart && chart.setSize({ width: Math.max($("chart").clientWidth, 280), height: 240 }), 150);
    });
    const given = fromFragment();
    const stored = sessionStorage.getItem(STORE);
    if (given) return enter(given);
    if (stored) {
      try {
        return enter(JSON.parse(stored));
      } catch (_) {
        sessionStorage.removeItem(STORE);
      }
    }
    showLogin("");
  }

  document.addEventListener("DOMContentLoaded", start);
})();
