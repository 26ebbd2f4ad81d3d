// Draw the world page's choropleth with Chart.js and chartjs-chart-geo.
// The country shapes come from the vendored world-atlas TopoJSON (ids: UN M49 codes as zero-padded
// strings, "004"), the numbers from GET /api/world/ with the page's query. The ranking table below
// the map holds the same values, so the page works (and stays readable) without this script.
(function () {
  "use strict";

  var ANTARCTICA = "010"; // no population, and it takes a fifth of the map's height
  var MISSING = "#dee2e6";
  var LEGEND_HEIGHT = 44; // pixels under the map for the colour legend
  var full = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
  var oneDecimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1, minimumFractionDigits: 1 });

  function persons(value) {
    return value === null || value === undefined ? "—" : full.format(Math.round(value / 1000) * 1000);
  }

  function signed(value) {
    if (value === null || value === undefined || !isFinite(value)) {
      return "—";
    }
    var text = oneDecimal.format(Math.abs(value)) + "%";
    return text === "0.0%" ? text : (value > 0 ? "+" : "\u2212") + text;
  }

  // The colour scale runs from -limit to +limit, so zero is its white middle. The limit covers
  // 95% of the values (a few outliers would otherwise wash every other country out), rounded up
  // to a round number; the values beyond it get the end colours.
  function symmetricLimit(values) {
    var sizes = values.map(Math.abs).sort(function (a, b) { return a - b; });
    if (!sizes.length) {
      return 1;
    }
    var limit = sizes[Math.min(sizes.length - 1, Math.floor(sizes.length * 0.95))] || 1;
    var steps = [1, 2, 5, 10, 20, 25, 50, 75, 100, 150, 200, 300, 500, 1000];
    for (var i = 0; i < steps.length; i += 1) {
      if (limit <= steps[i]) {
        return steps[i];
      }
    }
    return Math.ceil(limit / 1000) * 1000;
  }

  function fail(figure, message) {
    var status = document.getElementById("world-map-status");
    if (status) {
      status.textContent = message;
    }
    figure.dataset.ready = "error";
  }

  function tooltipLines(region, settings) {
    if (!region) {
      return ["No data"];
    }
    if (settings.view === "disagreement") {
      return [
        "This model, " + settings.to + ": " + persons(region.population_to),
        "UN Medium, " + settings.to + ": " + persons(region.un_medium),
        "Difference: " + signed(region.difference_percent),
      ];
    }
    return [
      settings.from + ": " + persons(region.population_from),
      settings.to + ": " + persons(region.population_to),
      "Change: " + signed(region.change_percent),
    ];
  }

  function draw(figure, canvas, atlas, world) {
    var settings = figure.dataset;
    var field = settings.view === "disagreement" ? "difference_percent" : "change_percent";
    var byCode = {};
    world.regions.forEach(function (region) {
      byCode[region.code] = region;
    });
    var features = ChartGeo.topojson
      .feature(atlas, atlas.objects.countries)
      .features.filter(function (feature) { return feature.id !== ANTARCTICA; });
    var values = [];
    var points = features.map(function (feature) {
      var region = feature.id === undefined ? undefined : byCode[parseInt(feature.id, 10)];
      var value = region && region[field] !== null ? region[field] : NaN;
      if (!isNaN(value)) {
        values.push(value);
      }
      return { feature: feature, value: value, region: region };
    });
    var limit = symmetricLimit(values);
    var chart = new Chart(canvas, {
      type: "choropleth",
      data: {
        labels: features.map(function (feature) { return feature.properties.name; }),
        datasets: [
          {
            label: canvas.getAttribute("aria-label") || "World",
            outline: features,
            data: points,
            borderColor: "#adb5bd",
            borderWidth: 0.5,
            hoverBorderColor: "#212529",
            hoverBorderWidth: 1.5,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        showOutline: false,
        layout: { padding: { bottom: LEGEND_HEIGHT + 4 } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) {
                var point = items.length ? items[0].raw : null;
                if (!point) {
                  return "";
                }
                return point.region ? point.region.name : point.feature.properties.name;
              },
              label: function (item) {
                return tooltipLines(item.raw.region, settings);
              },
            },
          },
        },
        scales: {
          projection: { axis: "x", projection: "equalEarth" },
          color: {
            axis: "x",
            interpolate: "rdBu",
            min: -limit,
            max: limit,
            missing: MISSING,
            ticks: {
              stepSize: limit / 2,
              maxTicksLimit: 5,
              callback: function (value) { return (value > 0 ? "+" : "") + value + "%"; },
            },
            // A horizontal legend under the map, in room of its own (layout.padding), so it never
            // covers a country, at any width.
            // (its negative bottom margin moves it below the chart area, into that padding).
            legend: {
              position: "bottom",
              align: "bottom",
              length: Math.min(320, canvas.clientWidth * 0.8),
              width: LEGEND_HEIGHT - 8,
              margin: { left: 0, right: 0, top: 0, bottom: -LEGEND_HEIGHT },
            },
          },
        },
        onHover: function (event, elements) {
          var target = event.native ? event.native.target : canvas;
          var linked = elements.length && elements[0].element.feature && points[elements[0].index].region;
          target.style.cursor = linked ? "pointer" : "default";
        },
        onClick: function (event, elements) {
          if (!elements.length) {
            return;
          }
          var region = points[elements[0].index].region;
          if (region) {
            window.location.assign(settings.regionUrl + region.code + "/");
          }
        },
      },
    });
    // How many of the data's regions have a shape on the map (the browser tests compare it with
    // the table's rows).
    figure.dataset.mapped = points.filter(function (point) { return point.region; }).length;
    canvas.dataset.ready = "true";
    figure.dataset.ready = "true";
    return chart;
  }

  function start() {
    var figure = document.getElementById("world-map-figure");
    var canvas = document.getElementById("world-map");
    if (!figure || !canvas) {
      return;
    }
    if (typeof Chart === "undefined" || typeof ChartGeo === "undefined") {
      fail(figure, "The map could not be drawn (its scripts did not load); the table below has every value.");
      return;
    }
    var json = function (url) {
      return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      });
    };
    Promise.all([json(figure.dataset.atlasUrl), json(figure.dataset.apiUrl)])
      .then(function (loaded) {
        draw(figure, canvas, loaded[0], loaded[1]);
      })
      .catch(function (error) {
        fail(figure, "The map could not be drawn (" + error.message + "); the table below has every value.");
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
