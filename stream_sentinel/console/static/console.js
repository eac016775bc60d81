// The overview's charts: the last hour of throughput and lag (records and seconds), redrawn
// every few seconds.
(function () {
  const throughput = document.getElementById("chart-throughput");
  const lag = document.getElementById("chart-lag");
  if (!throughput || !lag || typeof uPlot === "undefined") return;
  let charts = null;

  // each group twice: lag in records (left axis), and in seconds dashed (right axis)
  function lagData(series, groups) {
    return [series.time, ...groups.map((g) => series.lag[g] || []),
      ...groups.map((g) => (series.lag_seconds || {})[g] || [])];
  }

  function build(series) {
    const groups = Object.keys(series.lag);
    const colours = ["#4fa3ff", "#e8710a", "#1e7b34", "#b3261e", "#7b1fa2", "#5f6368"];
    const size = { width: 560, height: 200 };
    const records = groups.map((g, i) => ({ label: g, stroke: colours[i % 6] }));
    const seconds = groups.map((g, i) => ({ label: g + " (s)", stroke: colours[i % 6], dash: [4, 4], scale: "s" }));
    return {
      rate: new uPlot({ ...size, series: [{}, { label: "in/s", stroke: colours[0] }, { label: "out/s", stroke: colours[1] }] },
        [series.time, series.in_per_s, series.out_per_s], throughput),
      lag: new uPlot({ ...size, scales: { s: {} }, series: [{}, ...records, ...seconds],
        axes: [{}, {}, { scale: "s", side: 1, grid: { show: false } }] },
        lagData(series, groups), lag),
      groups: groups,
    };
  }

  async function refresh() {
    const reply = await fetch("/api/overview/series", { credentials: "same-origin" });
    if (!reply.ok) return;
    const series = await reply.json();
    if (charts === null) { charts = build(series); return; }
    charts.rate.setData([series.time, series.in_per_s, series.out_per_s]);
    charts.lag.setData(lagData(series, charts.groups));
  }

  refresh();
  setInterval(refresh, 5000);
})();

// A consumer group's page: its lag over the sampled hour in records (left axis) and seconds
// (right axis), redrawn every few seconds.
(function () {
  const place = document.getElementById("chart-group-lag");
  if (!place || typeof uPlot === "undefined") return;
  const url = "/api/kafka/groups/" + encodeURIComponent(place.dataset.group) + "/series";
  let chart = null;

  async function refresh() {
    const reply = await fetch(url, { credentials: "same-origin" });
    if (!reply.ok) return;
    const series = await reply.json();
    const data = [series.time, series.lag, series.lag_seconds];
    if (chart === null) {
      chart = new uPlot({
        width: 560, height: 200, scales: { s: {} },
        series: [{}, { label: "lag (records)", stroke: "#e8710a" },
          { label: "lag (s)", stroke: "#1a73e8", scale: "s" }],
        axes: [{}, {}, { scale: "s", side: 1, grid: { show: false } }],
      }, data, place);
      return;
    }
    chart.setData(data);
  }

  refresh();
  setInterval(refresh, 5000);
})();

// The live tail: keep the newest records only, so a long-open tail does not grow without bound.
document.addEventListener("htmx:afterSwap", function () {
  const tail = document.getElementById("tail");
  if (!tail) return;
  const shown = document.querySelectorAll("#records > .record");
  const keep = Number(tail.dataset.keep || 500);
  for (let i = keep; i < shown.length; i++) shown[i].remove();
});

// The Drift page: the PSI of a version's top features over its checked windows (drawn once).
(function () {
  if (typeof uPlot === "undefined") return;
  const colours = ["#4fa3ff", "#e8710a", "#1e7b34", "#b3261e", "#7b1fa2"];
  document.querySelectorAll(".chart-drift").forEach(async function (place) {
    const url = "/api/drift/" + encodeURIComponent(place.dataset.version) + "/series";
    const reply = await fetch(url, { credentials: "same-origin" });
    if (!reply.ok) return;
    const series = await reply.json();
    const names = Object.keys(series.features);
    new uPlot({
      width: 560, height: 200,
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: colours[i % colours.length] }))],
    }, [series.time, ...names.map((n) => series.features[n])], place);
  });
})();

// Sortable tables: a click on a column's header sorts its rows by that column (numbers by
// their data-sort value, empty last), a second click reverses.
document.addEventListener("click", function (event) {
  const th = event.target.closest("table.sortable th");
  if (!th) return;
  const table = th.closest("table");
  const body = table.tBodies[0];
  const column = Array.from(th.parentNode.children).indexOf(th);
  const down = table.dataset.sorted === String(column) && table.dataset.order !== "desc";
  const key = (row) => {
    const cell = row.children[column];
    const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
    const n = Number(raw);
    return raw === "" ? null : (Number.isNaN(n) ? raw : n);
  };
  const rows = Array.from(body.rows).sort(function (a, b) {
    const x = key(a), y = key(b);
    if (x === null || y === null) return x === y ? 0 : (x === null ? 1 : -1);
    const c = x < y ? -1 : (x > y ? 1 : 0);
    return down ? -c : c;
  });
  rows.forEach((row) => body.appendChild(row));
  table.dataset.sorted = String(column);
  table.dataset.order = down ? "desc" : "asc";
});
