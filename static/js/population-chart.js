// Draw the population chart from the JSON in <script id="chart-data"> with Chart.js.
// Per region one colour: recorded history solid, forecast dashed, prediction interval as a band,
// the UN Medium projection dotted when the data has one.
(function () {
  "use strict";

  var COLOURS = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  ];
  var full = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
  var compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

  function points(pairs) {
    return (pairs || []).map(function (pair) {
      return { x: pair[0], y: pair[1] };
    });
  }

  function withAlpha(hex, alpha) {
    var value = parseInt(hex.slice(1), 16);
    return "rgba(" + (value >> 16) + "," + ((value >> 8) & 255) + "," + (value & 255) + "," + alpha + ")";
  }

  function datasets(series) {
    var result = [];
    series.forEach(function (region, index) {
      var colour = COLOURS[index % COLOURS.length];
      if (region.history && region.history.length) {
        result.push({
          label: region.name + " (recorded)",
          data: points(region.history),
          borderColor: colour,
          backgroundColor: colour,
          borderWidth: 2,
          pointRadius: 0,
        });
      }
      if (region.forecast && region.forecast.length) {
        result.push({
          label: region.name + " (forecast)",
          data: points(region.forecast),
          borderColor: colour,
          backgroundColor: colour,
          borderDash: [6, 4],
          borderWidth: 2,
          pointRadius: region.forecast.length > 30 ? 0 : 1.5,
        });
        result.push({
          label: region.name + " lower bound",
          band: true,
          data: points(region.lower),
          borderColor: "transparent",
          pointRadius: 0,
          fill: false,
        });
        result.push({
          label: region.name + " upper bound",
          band: true,
          data: points(region.upper),
          borderColor: "transparent",
          backgroundColor: withAlpha(colour, 0.18),
          pointRadius: 0,
          fill: "-1",
        });
      }
      if (region.un_medium && region.un_medium.length) {
        result.push({
          label: region.name + " (UN Medium projection)",
          data: points(region.un_medium),
          borderColor: colour,
          backgroundColor: colour,
          borderDash: [2, 3],
          borderWidth: 1.5,
          pointRadius: 0,
        });
      }
    });
    return result;
  }

  function yTicks(value, index, ticks) {
    if (this.type === "logarithmic") {
      var label = Chart.Ticks.formatters.logarithmic.call(this, value, index, ticks);
      return label === "" ? "" : compact.format(value);
    }
    return compact.format(value);
  }

  function draw() {
    var source = document.getElementById("chart-data");
    var canvas = document.getElementById("population-chart");
    if (!source || !canvas || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var figure = document.getElementById("chart-figure");
    if (figure) {
      figure.hidden = false;
    }
    var chart = new Chart(canvas, {
      type: "line",
      data: { datasets: datasets(data.series) },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        parsing: false,
        spanGaps: false,
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: {
            type: "linear",
            title: { display: true, text: "Year" },
            ticks: { callback: function (value) { return String(value); }, precision: 0 },
          },
          y: {
            type: "linear",
            title: { display: true, text: "Population (" + data.unit + ")" },
            ticks: { callback: yTicks },
          },
        },
        plugins: {
          legend: {
            labels: {
              filter: function (item, chartData) {
                return !chartData.datasets[item.datasetIndex].band;
              },
            },
          },
          tooltip: {
            filter: function (item) {
              return !item.dataset.band;
            },
            callbacks: {
              title: function (items) {
                return items.length ? String(items[0].parsed.x) : "";
              },
              label: function (item) {
                return item.dataset.label + ": " + full.format(Math.round(item.parsed.y / 1000) * 1000);
              },
            },
          },
        },
      },
    });

    var toggle = document.getElementById("log-scale");
    if (toggle) {
      toggle.addEventListener("change", function () {
        chart.options.scales.y.type = toggle.checked ? "logarithmic" : "linear";
        chart.update();
      });
    }
    canvas.dataset.ready = "true";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
