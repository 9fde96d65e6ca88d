package report

import "html/template"

// pageTemplate is the HTML report. It must stay self-contained: no
// script, no stylesheet, font or image from elsewhere.
var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 0;
  background: #fff; }
main { max-width: 1140px; margin: 0 auto; padding: 16px 20px; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 17px; margin: 24px 0 8px; }
table { border-collapse: collapse; }
td, th { padding: 2px 10px; border-bottom: 1px solid #e4e4e4; }
th { text-align: left; background: #f3f3f3; }
table.num td, table.num th { text-align: right; }
table.num td:first-child, table.num th:first-child { text-align: left; }
table.kv th { background: none; font-weight: 600; }
td.sub { padding-left: 26px; }
.warning { background: #fde8e8; color: #8a1111; border: 1px solid #e99;
  padding: 6px 10px; font-weight: 600; margin: 4px 0; }
.counts { display: flex; flex-wrap: wrap; gap: 32px;
  align-items: flex-start; }
svg.chart { width: 100%; height: auto; display: block; margin: 8px 0; }
svg .title { font-size: 15px; font-weight: 600; fill: #222; }
svg .plot { fill: #fafafa; stroke: #bbb; }
svg .grid { stroke: #e2e2e2; stroke-width: 1; }
svg .xtick { font-size: 11px; fill: #555; text-anchor: middle; }
svg .ytick { font-size: 11px; fill: #555; text-anchor: end; }
svg .xlabel, svg .ylabel { font-size: 12px; fill: #333;
  text-anchor: middle; }
svg .legend { font-size: 12px; fill: #333; }
svg .line { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg .swatch { stroke-width: 3; }
svg .dot { stroke: none; }
svg .nodata { font-size: 14px; fill: #999; text-anchor: middle; }
footer { color: #888; font-size: 12px; margin-top: 24px; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{range .Warnings}}<p class="warning">WARNING: {{.}}</p>
{{end}}
<table class="kv">
{{range .Header}}<tr><th>{{.Label}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{if .Phases}}
<h2>Latency by phase</h2>
<table class="num">
<tr>{{range .PhaseHead}}<th>{{.}}</th>{{end}}</tr>
{{range .Phases}}<tr><td{{if .Sub}} class="sub"{{end}}>{{.Label}}</td>
{{- range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}
<h2>Over time</h2>
{{range .Charts}}{{.}}{{end}}
<h2>Counts</h2>
<div class="counts">
{{range .Counts}}<table class="num">
<tr><th>{{.Key}}</th><th>{{.Title}}</th></tr>
{{range .Rows}}<tr><td>{{.Label}}</td><td>{{.Value}}</td></tr>
{{else}}<tr><td colspan="2">none</td></tr>
{{end}}</table>
{{end}}</div>
{{if .Sources}}
<h2>Runs</h2>
<table class="num">
<tr><th>shard</th><th>host</th><th>version</th><th>start</th>
<th>offset</th><th>elapsed</th><th>accepted</th><th>complete</th></tr>
{{range .Sources}}<tr><td>{{.Shard}}</td><td>{{.Host}}</td>
<td>{{.Version}}</td><td>{{.Start}}</td><td>{{.Offset}}</td>
<td>{{.Elapsed}}</td><td>{{.Accepted}}</td><td>{{.Complete}}</td></tr>
{{end}}</table>
{{end}}
<footer>go-smtp-source {{.Tool}}</footer>
</main>
</body>
</html>
`))
