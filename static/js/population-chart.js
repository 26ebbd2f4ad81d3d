// Draw the population chart from the JSON in <script id="chart-data"> with Chart.js, in place of
// the server-drawn SVG (the page without JavaScript keeps the SVG). Per region one colour (20 that
// differ, from the data's palette): recorded history solid, forecast dashed and joined to the last
// record, prediction interval as a band, the UN Medium dotted with its band. Each line is named at
// its end (endLabels below) instead of a legend that clips with many regions. The log scale is
// kept in the URL (?scale=log), as the server SVG reads it.
(function () {
  "use strict";

  var exact = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
  var WORDS = [[1e9, " billion"], [1e6, " million"], [1e3, " thousand"]];

  // The same words presenters.persons_readable writes on the page: 8.58 billion, 46.4 million.
  function readable(value) {
    if (value === null || value === undefined || !isFinite(value)) {
      return "";
    }
    var size = Math.abs(value);
    for (var i = 0; i < WORDS.length; i += 1) {
      if (size >= WORDS[i][0] * 0.9995) {
        var scaled = value / WORDS[i][0];
        if (Math.abs(scaled) >= 999.95 && i > 0) {
          continue;
        }
        var digits = Math.abs(scaled) < 9.995 ? 2 : Math.abs(scaled) < 99.95 ? 1 : 0;
        return scaled.toLocaleString("en", {
          minimumFractionDigits: digits,
          maximumFractionDigits: digits,
        }) + WORDS[i][1];
      }
    }
    return exact.format(value);
  }

  function compact(value) {
    var size = Math.abs(value);
    var units = [[1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (var i = 0; i < units.length; i += 1) {
      if (size >= units[i][0]) {
        return Number((value / units[i][0]).toPrecision(3)) + units[i][1];
      }
    }
    return String(Number(value.toPrecision(3)));
  }

  function points(pairs) {
    return (pairs || []).filter(function (pair) {
      return pair[1] !== null;
    }).map(function (pair) {
      return { x: pair[0], y: pair[1] };
    });
  }

  function withAlpha(hex, alpha) {
    var value = parseInt(hex.slice(1), 16);
    return "rgba(" + (value >> 16) + "," + ((value >> 8) & 255) + "," + (value & 255) + "," + alpha + ")";
  }

  // Forecast points carry their interval, for the tooltip.
  function forecastPoints(region) {
    var lower = {};
    var upper = {};
    (region.lower || []).forEach(function (pair) { lower[pair[0]] = pair[1]; });
    (region.upper || []).forEach(function (pair) { upper[pair[0]] = pair[1]; });
    return points(region.forecast).map(function (point) {
      point.lower = lower[point.x];
      point.upper = upper[point.x];
      return point;
    });
  }

  function unPoints(region) {
    var lower = {};
    var upper = {};
    (region.un_lower || []).forEach(function (pair) { lower[pair[0]] = pair[1]; });
    (region.un_upper || []).forEach(function (pair) { upper[pair[0]] = pair[1]; });
    return points(region.un_medium).map(function (point) {
      point.lower = lower[point.x];
      point.upper = upper[point.x];
      return point;
    });
  }

  function band(label, lower, upper, colour, alpha, region) {
    return [
      { label: label + " lower", band: true, data: points(lower), borderColor: "transparent",
        pointRadius: 0, fill: false, region: region },
      { label: label + " upper", band: true, data: points(upper), borderColor: "transparent",
        backgroundColor: withAlpha(colour, alpha), pointRadius: 0, fill: "-1", region: region },
    ];
  }

  function datasets(data) {
    var palette = data.palette;
    var result = [];
    data.series.forEach(function (region, index) {
      var colour = palette[index % palette.length];
      var common = { borderColor: colour, backgroundColor: colour, pointRadius: 0, region: region.name };
      if (region.un_lower && region.un_lower.length && region.un_upper && region.un_upper.length) {
        result = result.concat(band(region.name + " UN band", region.un_lower, region.un_upper, colour, 0.07, region.name));
      }
      if (region.lower && region.lower.length) {
        result = result.concat(band(region.name + " interval", region.lower, region.upper, colour, 0.18, region.name));
      }
      if (region.history && region.history.length) {
        result.push(Object.assign({}, common, {
          label: region.name + " (recorded)", kind: "recorded", data: points(region.history), borderWidth: 2,
        }));
      }
      if (region.bridge && region.bridge.length) {
        result.push(Object.assign({}, common, {
          label: region.name + " (joining the record to the forecast)", band: true,
          data: points(region.bridge), borderWidth: 1.5, borderDash: [3, 4],
          borderColor: withAlpha(colour, region.gap ? 0.55 : 1),
        }));
      }
      if (region.forecast && region.forecast.length) {
        result.push(Object.assign({}, common, {
          label: region.name + " (forecast)", kind: "forecast", data: forecastPoints(region),
          borderDash: [6, 4], borderWidth: 2, pointRadius: region.forecast.length > 30 ? 0 : 1.5,
        }));
      }
      if (region.un_medium && region.un_medium.length) {
        result.push(Object.assign({}, common, {
          label: region.name + " (UN Medium)", kind: "un", data: unPoints(region),
          borderDash: [2, 3], borderWidth: 1.5,
        }));
      }
    });
    return result;
  }

  // 1, 2 and 5 × 10^k on a log axis (only powers of ten over many decades), as charts.py does.
  function logTicks(axis) {
    if (axis.type !== "logarithmic") {
      return;
    }
    var low = Math.max(axis.min, 1);
    var high = axis.max;
    var decades = Math.log10(high / low);
    var multipliers = decades > 4 ? [1] : decades > 1.5 ? [1, 2, 5] : [1, 1.5, 2, 3, 5, 7];
    var ticks = [];
    for (var exponent = Math.floor(Math.log10(low)); exponent <= Math.ceil(Math.log10(high)); exponent += 1) {
      multipliers.forEach(function (multiplier) {
        var value = multiplier * Math.pow(10, exponent);
        if (value >= low && value <= high) {
          ticks.push({ value: value });
        }
      });
    }
    if (ticks.length >= 2) {
      axis.ticks = ticks;
    }
  }

  // A label at the end of each region's last line, in its colour, pushed apart so none overlap.
  var endLabels = {
    id: "endLabels",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      var ends = {};
      chart.data.datasets.forEach(function (dataset, index) {
        if (dataset.band || !dataset.kind || dataset.kind === "un" || !chart.isDatasetVisible(index)) {
          return;
        }
        var meta = chart.getDatasetMeta(index);
        var last = meta.data[meta.data.length - 1];
        var point = dataset.data[dataset.data.length - 1];
        if (!last || !point || isNaN(last.y)) {
          return;
        }
        var known = ends[dataset.region];
        if (!known || point.x >= known.year) {
          ends[dataset.region] = { year: point.x, y: last.y, colour: dataset.borderColor, name: dataset.region };
        }
      });
      var labels = Object.keys(ends).map(function (key) { return ends[key]; });
      labels.sort(function (a, b) { return a.y - b.y; });
      for (var i = 1; i < labels.length; i += 1) {
        labels[i].y = Math.max(labels[i].y, labels[i - 1].y + 13);
      }
      var x = chart.chartArea.right + 6;
      ctx.save();
      ctx.font = "600 12px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
      ctx.textBaseline = "middle";
      labels.forEach(function (label) {
        ctx.fillStyle = label.colour;
        ctx.fillText(shorten(label.name, chart.options.layout.padding.right - 8, ctx), x, label.y);
      });
      ctx.restore();
    },
  };

  function shorten(text, width, ctx) {
    if (ctx.measureText(text).width <= width) {
      return text;
    }
    while (text.length > 1 && ctx.measureText(text + "…").width > width) {
      text = text.slice(0, -1);
    }
    return text + "…";
  }

  // Downloads and copies get a white background, not a transparent one.
  var whiteBackground = {
    id: "whiteBackground",
    beforeDraw: function (chart) {
      chart.ctx.save();
      chart.ctx.fillStyle = "#ffffff";
      chart.ctx.fillRect(0, 0, chart.width, chart.height);
      chart.ctx.restore();
    },
  };

  function labelWidth(series, canvas) {
    var ctx = canvas.getContext("2d");
    ctx.font = "600 12px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
    var widest = 0;
    series.forEach(function (region) {
      widest = Math.max(widest, ctx.measureText(region.name).width);
    });
    var limit = canvas.parentNode.clientWidth < 576 ? 90 : 170;
    return Math.min(Math.ceil(widest) + 12, limit);
  }

  function tooltipLabel(item, level) {
    var point = item.raw;
    var text = item.dataset.label + ": " + readable(point.y) + " (" + exact.format(Math.round(point.y)) + ")";
    if (point.lower !== undefined && point.lower !== null && point.upper !== null) {
      var name = item.dataset.kind === "un" ? "UN band" : (level ? level + " interval" : "interval");
      return [text, "  " + name + ": " + readable(point.lower) + " – " + readable(point.upper)];
    }
    return text;
  }

  function setScaleInUrl(scale) {
    var url = new URL(window.location.href);
    if (scale === "log") {
      url.searchParams.set("scale", "log");
    } else {
      url.searchParams.delete("scale");
    }
    window.history.replaceState(null, "", url.toString());
    document.querySelectorAll("[data-scale-link]").forEach(function (link) {
      var target = new URL(link.href, window.location.href);
      if (scale === "log") {
        target.searchParams.set("scale", "log");
      } else {
        target.searchParams.delete("scale");
      }
      link.href = target.pathname + target.search;
    });
  }

  function draw() {
    var source = document.getElementById("chart-data");
    var canvas = document.getElementById("population-chart");
    if (!source || !canvas || typeof Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var toggle = document.getElementById("log-scale");
    var svg = document.getElementById("chart-svg");
    if (svg) {
      svg.hidden = true;
    }
    canvas.hidden = false;
    var log = toggle ? toggle.checked : data.scale === "log";
    var chart = new Chart(canvas, {
      type: "line",
      data: { datasets: datasets(data) },
      plugins: [endLabels, whiteBackground],
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        parsing: false,
        spanGaps: false,
        layout: { padding: { right: labelWidth(data.series, canvas), top: 4 } },
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: {
          x: {
            type: "linear",
            title: { display: true, text: "Year" },
            ticks: { callback: function (value) { return String(value); }, precision: 0 },
          },
          y: {
            type: log ? "logarithmic" : "linear",
            title: { display: true, text: "Population (" + data.unit + ")" },
            ticks: { callback: function (value) { return compact(value); }, autoSkip: true },
            afterBuildTicks: logTicks,
          },
        },
        plugins: {
          legend: { display: false },
          title: { display: true, text: data.title, align: "start", font: { size: 14, weight: "600" }, color: "#212529" },
          tooltip: {
            filter: function (item) {
              return !item.dataset.band;
            },
            callbacks: {
              title: function (items) {
                return items.length ? String(items[0].parsed.x) : "";
              },
              label: function (item) {
                return tooltipLabel(item, data.level);
              },
            },
          },
        },
      },
    });

    if (toggle) {
      toggle.addEventListener("change", function () {
        chart.options.scales.y.type = toggle.checked ? "logarithmic" : "linear";
        chart.update();
        setScaleInUrl(toggle.checked ? "log" : "linear");
      });
    }
    var png = document.getElementById("download-png");
    if (png) {
      // The chart as drawn here (its scale, its size); the link's own href is the server's PNG.
      png.addEventListener("click", function () {
        png.href = chart.toBase64Image("image/png");
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
