#include "controller/dashboard_page.hpp"

namespace loadctl::controller {

// Elements whose id starts with "v-" hold one value of /api/status each (the tests read them).
const std::string_view kDashboardPage = R"PAGE(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loadctl live</title>
<style>
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2430;--mute:#6b7585;--line:#e3e6eb;--acc:#2f6fde;--ok:#1f9d55;--bad:#d64545;--warn:#c98a04}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{display:flex;align-items:center;gap:16px;padding:12px 20px;background:#1d2430;color:#fff}
header h1{font-size:18px;margin:0;font-weight:600}header .scn{color:#b8c2d3;font-size:13px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;flex:1}
.badge{padding:3px 10px;border-radius:12px;font-size:12px;font-weight:600;text-transform:uppercase;background:#556}
.badge.running{background:var(--ok)}.badge.stopping,.badge.finishing{background:var(--warn)}.badge.finished{background:#445}.badge.lost{background:var(--bad)}
main{padding:16px 20px;display:grid;gap:14px}
.progress{height:8px;background:var(--line);border-radius:4px;overflow:hidden}.progress div{height:100%;background:var(--acc);width:0}
.row{display:flex;justify-content:space-between;color:var(--mute);font-size:13px;margin-top:4px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card .k{color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.04em}.card .v{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}
.card .s{color:var(--mute);font-size:12px}.v.bad{color:var(--bad)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
.chart h3,.panel h3{margin:0 0 6px;font-size:13px;color:var(--mute);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
svg{width:100%;height:140px;display:block}svg .grid{stroke:var(--line);stroke-width:1}svg text{fill:var(--mute);font-size:10px}
svg .ln{fill:none;stroke-width:1.8}svg .ev{stroke:var(--warn);stroke-dasharray:3 3}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line)}th{color:var(--mute);font-weight:600;font-size:12px}
td.n,th.n{text-align:right}.panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:12px}
.controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center}button{font:inherit;padding:6px 12px;border-radius:6px;border:1px solid var(--line);background:#fff;cursor:pointer}
button.danger{border-color:var(--bad);color:var(--bad)}input{font:inherit;padding:5px 8px;border:1px solid var(--line);border-radius:6px;width:110px}
#msg{color:var(--mute)}#report a{font-weight:600;color:var(--acc)}.muted{color:var(--mute)}
</style></head><body>
<header><h1>loadctl</h1><span class="scn" id="v-scenario"></span><span class="badge" id="v-state">…</span><span class="muted" id="v-reason"></span></header>
<main>
<section class="card"><div class="progress"><div id="bar"></div></div>
<div class="row"><span>elapsed <b id="v-elapsed">0</b> s of <span id="v-planned">0</span> s</span><span>phase <b id="v-phase">-</b> of <span id="v-phases">-</span></span><span id="v-steer" class="muted"></span></div>
<div id="report"></div></section>
<section class="cards">
<div class="card"><div class="k">users running</div><div class="v" id="v-users">0</div><div class="s"><span id="v-users-started">0</span> started, <span id="v-users-finished">0</span> finished</div></div>
<div class="card"><div class="k">requests / s</div><div class="v" id="v-rate">0</div><div class="s"><span id="v-requests">0</span> requests</div></div>
<div class="card"><div class="k">errors</div><div class="v" id="v-errors">0</div><div class="s" id="v-error-share">&nbsp;</div></div>
<div class="card"><div class="k">request p50 / p95 / p99</div><div class="v"><span id="v-req-p95">–</span><small> ms</small></div><div class="s"><span id="v-req-p50">–</span> / <span id="v-req-p95b">–</span> / <span id="v-req-p99">–</span> ms</div></div>
</section>
<section class="charts">
<div class="card chart"><h3>Requests / s</h3><svg id="c-rate"></svg></div>
<div class="card chart"><h3>Users running</h3><svg id="c-users"></svg></div>
<div class="card chart"><h3>Request time p50 / p95 / p99 (ms)</h3><svg id="c-lat"></svg></div>
<div class="card chart"><h3>Errors / s</h3><svg id="c-err"></svg></div>
</section>
<section class="panels">
<div class="card panel"><h3 id="lat-title">Response times, last second (ms)</h3><table id="t-lat"><thead><tr><th></th><th class="n">count</th><th class="n">p50</th><th class="n">p95</th><th class="n">p99</th></tr></thead><tbody></tbody></table></div>
<div class="card panel"><h3>Errors by name</h3><table id="t-err"><tbody><tr><td class="muted">none</td></tr></tbody></table></div>
</section>
<section class="card panel"><h3>Agents</h3><table id="t-agents"><thead><tr><th>id</th><th>host</th><th>state</th><th class="n">users</th><th class="n">req/s</th><th class="n">cpu %</th><th class="n">last heard</th><th></th></tr></thead><tbody></tbody></table></section>
<section class="card panel"><h3>Host monitors</h3><table id="t-mon"><thead><tr><th>host</th><th class="n">cpu %</th><th class="n">free memory (MB)</th><th class="n">load</th></tr></thead><tbody></tbody></table></section>
<section class="card panel"><h3>Steering</h3><div class="controls">
<button id="b-pause">Pause arrivals</button><button id="b-resume">Resume</button>
<input id="i-rate" placeholder="2x or 500/s"><button id="b-rate">Set rate</button>
<input id="i-agent" placeholder="host:port of loadagent --listen"><input id="i-agent-ip" placeholder="source ip (optional)" size="14"><button id="b-add">Add agent</button>
<button class="danger" id="b-stop">Stop the run</button><span id="msg"></span></div>
<ul id="events" class="muted"></ul></section>
</main>
<script>
"use strict";
const $=id=>document.getElementById(id);
const pts=[],evs=[];let since=-1,last=null,busy=false;
const fmt=(v,d)=>v==null||isNaN(v)?"–":Number(v).toLocaleString("en-US",{maximumFractionDigits:d==null?1:d});
const esc=s=>String(s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
function set(id,v){const e=$(id);if(e&&e.textContent!==String(v))e.textContent=v;}
function chart(id,series,evList){
  const svg=$(id),W=svg.clientWidth||400,H=140,L=40,B=16,T=6;
  const xs=pts.map(p=>p.t);if(xs.length<1){svg.innerHTML="";return;}
  const x0=xs[0],x1=Math.max(xs[xs.length-1],x0+1);let ymax=0;
  for(const s of series)for(const p of pts){const v=s.f(p);if(v!=null&&v>ymax)ymax=v;}
  ymax=ymax>0?ymax*1.1:1;const X=t=>L+(W-L-4)*(t-x0)/(x1-x0),Y=v=>T+(H-T-B)*(1-v/ymax);
  let g="";for(let i=0;i<=3;i++){const v=ymax*i/3,y=Y(v);g+=`<line class="grid" x1="${L}" x2="${W}" y1="${y}" y2="${y}"/><text x="${L-4}" y="${y+3}" text-anchor="end">${fmt(v,ymax<10?1:0)}</text>`;}
  g+=`<text x="${L}" y="${H-3}">${fmt(x0,0)} s</text><text x="${W-4}" y="${H-3}" text-anchor="end">${fmt(x1,0)} s</text>`;
  for(const e of evList)if(e.t>=x0)g+=`<line class="ev" x1="${X(e.t)}" x2="${X(e.t)}" y1="${T}" y2="${H-B}"><title>${esc(e.text)}</title></line>`;
  for(const s of series){let d="";for(const p of pts){const v=s.f(p);if(v==null)continue;d+=(d?"L":"M")+X(p.t).toFixed(1)+","+Y(v).toFixed(1);}
    g+=`<path class="ln" stroke="${s.c}" d="${d}" data-points="${pts.length}"/>`;}
  svg.innerHTML=g;
}
function render(){
  const s=last;if(!s)return;
  set("v-state",s.state);$("v-state").className="badge "+s.state;set("v-scenario",s.scenario);
  set("v-reason",s.state!=="setup"&&s.state!=="running"&&s.stop_reason?s.stop_reason:"");
  set("v-elapsed",fmt(s.elapsed,0));set("v-planned",fmt(s.planned,0));
  set("v-phase",s.phase===0?"last":s.phase);set("v-phases",s.phases);
  $("bar").style.width=Math.min(100,s.planned>0?100*s.elapsed/s.planned:0)+"%";
  set("v-users",s.users);set("v-users-started",s.users_started);set("v-users-finished",s.users_finished);
  set("v-rate",fmt(s.request_rate,1));set("v-requests",s.requests);set("v-errors",s.errors);
  $("v-errors").className="v"+(s.errors>0?" bad":"");
  set("v-error-share",s.requests>0?fmt(100*s.errors/s.requests,2)+" % of requests":"\u00a0");
  const r=s.request||{};set("v-req-p50",fmt(r.p50,1));set("v-req-p95",fmt(r.p95,1));set("v-req-p95b",fmt(r.p95,1));set("v-req-p99",fmt(r.p99,1));
  set("v-steer",s.arrivals_paused?"arrivals paused":(s.rate_factor!==1?"rate × "+fmt(s.rate_factor,3):""));
  let h="";for(const k of ["request","page","transaction"]){const l=s[k];h+=`<tr><td>${k}</td><td class="n">${l?l.count:0}</td><td class="n">${fmt(l&&l.p50)}</td><td class="n">${fmt(l&&l.p95)}</td><td class="n">${fmt(l&&l.p99)}</td></tr>`;}
  $("t-lat").tBodies[0].innerHTML=h;
  const over=s.state==="finishing"||s.state==="finished";
  set("lat-title",over?"Response times, whole run (ms)":"Response times, last second (ms)");
  for(const b of document.querySelectorAll(".controls button,.controls input"))b.disabled=over||s.state==="stopping";
  const en=Object.keys(s.errors_by_name);
  $("t-err").tBodies[0].innerHTML=en.length?en.map(n=>`<tr><td>${esc(n)}</td><td class="n" data-error="${esc(n)}">${s.errors_by_name[n]}</td></tr>`).join(""):'<tr><td class="muted">none</td></tr>';
  $("t-agents").tBodies[0].innerHTML=s.agents.map(a=>`<tr data-agent="${a.id}"><td>${a.id}</td><td>${esc(a.host)}${a.hostname&&a.hostname!==a.host?' <span class="muted">('+esc(a.hostname)+")</span>":""}</td><td>${esc(a.state)}${a.state==="running"&&a.share===0?" (removed)":""}</td><td class="n">${a.users}</td><td class="n">${fmt(a.request_rate)}</td><td class="n">${a.cpu==null?"–":fmt(a.cpu)}</td><td class="n">${fmt(a.silent_for)} s</td><td>${a.state==="running"?`${a.share>0?`<button data-remove="${a.id}">remove</button> `:""}<button data-stop="${a.id}">stop</button>`:""}</td></tr>`).join("");
  $("t-mon").tBodies[0].innerHTML=(s.monitors||[]).map(m=>`<tr data-monitor="${esc(m.host)}"><td>${esc(m.host)}</td><td class="n">${fmt(m.cpu)}</td><td class="n">${fmt(m.freemem,0)}</td><td class="n">${fmt(m.load,2)}</td></tr>`).join("")||'<tr><td class="muted">none yet</td></tr>';
  if(s.report)$("report").innerHTML=`<p>Final report: <a id="report-link" href="${esc(s.report)}">${esc(s.report)}</a></p>`;
  else if(s.state==="finished")$("report").innerHTML=`<p class="muted">Run finished (exit status ${s.exit_status}). <code>loadctl report ${esc(s.run_dir)}</code> renders its report.</p>`;
  $("events").innerHTML=evs.map(e=>`<li>${fmt(e.t,1)} s: ${esc(e.text)}</li>`).join("");
  chart("c-rate",[{f:p=>p.request_rate,c:"#2f6fde"}],evs);
  chart("c-users",[{f:p=>p.users,c:"#1f9d55"}],evs);
  chart("c-lat",[{f:p=>p.request&&p.request.p50,c:"#8fb3ef"},{f:p=>p.request&&p.request.p95,c:"#2f6fde"},{f:p=>p.request&&p.request.p99,c:"#d64545"}],evs);
  chart("c-err",[{f:p=>p.error_rate,c:"#d64545"}],evs);
}
async function poll(){
  if(busy)return;busy=true;
  try{
    const [st,ss]=await Promise.all([fetch("/api/status",{cache:"no-store"}),fetch("/api/stats?since="+since,{cache:"no-store"})]);
    if(st.ok)last=await st.json();
    if(ss.ok){const j=await ss.json();for(const p of j.points){pts.push(p);since=p.t;}for(const e of j.events)if(!evs.some(x=>x.t===e.t&&x.text===e.text))evs.push(e);
      if(pts.length>900)pts.splice(0,pts.length-900);}
    render();document.body.dataset.polls=(+(document.body.dataset.polls||0)+1);
  }catch(e){set("msg","controller unreachable: "+e.message);}
  busy=false;
}
async function post(path){
  try{const r=await fetch(path,{method:"POST",headers:{"X-Loadctl":"1"}});set("msg",(await r.text()).trim());}catch(e){set("msg",e.message);}
  poll();
}
$("b-pause").onclick=()=>post("/api/pause");$("b-resume").onclick=()=>post("/api/resume");
$("b-rate").onclick=()=>post("/api/rate?value="+encodeURIComponent($("i-rate").value.trim()));
$("b-stop").onclick=()=>{if(confirm("Stop the run?"))post("/api/stop");};
$("b-add").onclick=()=>{const ip=$("i-agent-ip").value.trim();post("/api/add-agent?host="+encodeURIComponent($("i-agent").value.trim())+(ip?"&ip="+encodeURIComponent(ip):""));};
$("t-agents").onclick=e=>{const id=e.target.dataset.stop,rm=e.target.dataset.remove;if(id!=null&&confirm("Stop agent "+id+"?"))post("/api/stop?agent="+id);
  if(rm!=null&&confirm("Remove agent "+rm+"? Its arrivals move to the other agents."))post("/api/remove-agent?agent="+rm);};
poll();setInterval(poll,1000);
</script></body></html>
)PAGE";

}  // namespace loadctl::controller
