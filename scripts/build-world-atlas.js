// Build the world map's country shapes (static/vendor/world-atlas/countries-m49.json) from the
// world-atlas package's Natural Earth files, so that every country and area of the WPP data is on
// the map. Run by scripts/vendor-static.sh:
//
//   node scripts/build-world-atlas.js WORLD_ATLAS_DIR TOPOJSON_CLIENT_JS TOPOJSON_SERVER_JS OUT
//
// Why: the 1:110m file alone lacks 63 of WPP2019's 235 countries and areas (Malta, Singapore,
// Bahrain, most islands), and Natural Earth draws a few places the UN counts apart as parts of
// another country (French Guiana in France, Bonaire in the Netherlands, Tokelau in New Zealand,
// the Channel Islands as Jersey and Guernsey). The 1:10m file has them all but weighs 3.6 MB.
// So: every country at 1:110m (light, and what the eye sees at world scale), the missing ones at
// the finest scale that has them (1:50m, else 1:10m: they are small, so they add little), the parts
// listed in SPLITS moved out of the country Natural Earth puts them in, and MERGES joined.
// Ids stay UN M49 numeric codes as zero-padded strings, as world-atlas publishes them.
"use strict";

const fs = require("fs");
const path = require("path");

const [atlasDir, clientPath, serverPath, outPath] = process.argv.slice(2);
const client = require(path.resolve(clientPath));
const server = require(path.resolve(serverPath));

// Parts of a Natural Earth country that the UN counts as areas of their own: each polygon of the
// source country (at 1:10m) whose centre lies in the box [west, south, east, north] becomes part of
// the area `to`; the same parts are removed from the source country's coarser shape.
const SPLITS = [
  { from: "250", to: "254", name: "French Guiana", box: [-55, 1, -51, 6.5] },
  { from: "250", to: "312", name: "Guadeloupe", box: [-62, 15.7, -60.9, 16.6] },
  { from: "250", to: "474", name: "Martinique", box: [-61.3, 14.3, -60.7, 14.95] },
  { from: "250", to: "638", name: "Réunion", box: [55, -21.5, 56, -20.8] },
  { from: "250", to: "175", name: "Mayotte", box: [44.9, -13.1, 45.4, -12.5] },
  { from: "528", to: "535", name: "Bonaire, Sint Eustatius and Saba", box: [-69, 11.9, -62.8, 17.8] },
  { from: "554", to: "772", name: "Tokelau", box: [-173, -9.7, -171, -8.3] },
];
// Areas the UN counts as one that Natural Earth draws as several.
const MERGES = [{ to: "830", name: "Channel Islands", from: ["831", "832"] }];

function load(scale) {
  const topology = JSON.parse(fs.readFileSync(path.join(atlasDir, `countries-${scale}.json`)));
  const byId = new Map();
  for (const feature of client.feature(topology, topology.objects.countries).features) {
    if (feature.id !== undefined) {
      byId.set(feature.id, feature);
    }
  }
  return byId;
}

function polygons(feature) {
  const geometry = feature.geometry;
  if (!geometry) {
    return [];
  }
  return geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
}

function centre(polygon) {
  const ring = polygon[0];
  const sum = ring.reduce((acc, point) => [acc[0] + point[0], acc[1] + point[1]], [0, 0]);
  return [sum[0] / ring.length, sum[1] / ring.length];
}

function inBox(polygon, box) {
  const [x, y] = centre(polygon);
  return x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
}

function shape(id, name, parts) {
  return { type: "Feature", id, properties: { name }, geometry: { type: "MultiPolygon", coordinates: parts } };
}

function build() {
  const coarse = load("110m");
  const finer = [load("50m"), load("10m")];
  const finest = finer[1];
  const features = new Map(coarse);
  // Countries the coarse file lacks, from the finest file that has them.
  for (const scale of finer) {
    for (const [id, feature] of scale) {
      if (!features.has(id)) {
        features.set(id, feature);
      }
    }
  }
  for (const split of SPLITS) {
    const source = finest.get(split.from);
    const parts = polygons(source).filter((polygon) => inBox(polygon, split.box));
    if (parts.length === 0) {
      throw new Error(`${split.name}: no part of ${split.from} in ${split.box}`);
    }
    features.set(split.to, shape(split.to, split.name, parts));
    const rest = features.get(split.from);
    features.set(split.from, shape(split.from, rest.properties.name,
      polygons(rest).filter((polygon) => !inBox(polygon, split.box))));
  }
  for (const merge of MERGES) {
    const parts = merge.from.flatMap((id) => polygons(features.get(id)));
    merge.from.forEach((id) => features.delete(id));
    features.set(merge.to, shape(merge.to, merge.name, parts));
  }
  const collection = { type: "FeatureCollection", features: [...features.values()] };
  return server.topology({ countries: collection }, 1e5);
}

const topology = build();
fs.writeFileSync(outPath, JSON.stringify(topology));
console.log(`${outPath}: ${topology.objects.countries.geometries.length} countries and areas`);
