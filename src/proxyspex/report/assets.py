"""The report's stylesheet and script (inline, so the page has no external resources)."""

STYLE = """
body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem;overflow-wrap:anywhere}
table.about{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.95rem}
table.about th{color:#555;font-weight:normal;text-align:left;padding:.15rem 1rem .15rem 0;\
vertical-align:top;white-space:nowrap}
table.about td{padding:.15rem 0;overflow-wrap:anywhere}
.textbox{border:1px solid #ddd;border-radius:6px;max-height:65vh;overflow:auto}
.textview{position:relative;padding:1.6rem 1rem 1rem}
.units{line-height:2.6;font-size:1.1rem;overflow-wrap:anywhere}
.unit{unicode-bidi:isolate;padding:.15rem .2rem;border-radius:4px;border:2px solid transparent;cursor:default}
.unit.on{border-color:#111;outline:2px solid #fc0}
.unit.coarse{border:1px dashed #999}
bdi{unicode-bidi:isolate}
svg.arcs{position:absolute;left:0;top:0;pointer-events:none;overflow:visible}
svg.arcs path{fill:none;opacity:.75;pointer-events:visibleStroke;cursor:pointer}
svg.arcs path.on{opacity:1}
.pairs .pair{cursor:pointer;margin-right:.8rem;white-space:nowrap}
.pairs .pair.on{background:#fff6cc}
table.inter-table{border-collapse:collapse;margin-top:1rem;width:100%}
.inter-table td,.inter-table th{padding:.3rem .6rem;border-bottom:1px solid #eee;text-align:left}
tr.inter{cursor:pointer} tr.inter:hover,tr.inter.on{background:#fff6cc}
table.collapsed tr[data-more]{display:none}
button#more{margin-top:.5rem}
.pos{color:#1a6b1a}.neg{color:#a11}.meta{color:#555;font-size:.9rem}
"""

# PAIRS = [[i, j, value, weight in (0, 1]], ...] is defined just before this script.
SCRIPT = r"""
const view=document.getElementById('textview'),box=document.getElementById('textbox');
const svg=document.getElementById('arcs'),NS='http://www.w3.org/2000/svg';
function unitsOf(el){return JSON.parse(el.dataset.units).map(i=>document.getElementById('u'+i));}
function reveal(u){const top=u.offsetTop,bottom=top+u.offsetHeight;
  if(top<box.scrollTop||bottom>box.scrollTop+box.clientHeight)box.scrollTop=top-box.clientHeight/3;}
function show(el,on){const us=unitsOf(el);us.forEach(u=>u.classList.toggle('on',on));
  el.classList.toggle('on',on);if(on&&us.length)reveal(us[0]);}
function hover(el){el.addEventListener('mouseenter',()=>show(el,true));
  el.addEventListener('mouseleave',()=>{if(!el.dataset.pinned)show(el,false)});}
function arcs(){svg.replaceChildren();const r0=view.getBoundingClientRect();
  svg.setAttribute('width',view.clientWidth);svg.setAttribute('height',view.clientHeight);
  PAIRS.forEach(([i,j,v,w])=>{const a=document.getElementById('u'+i).getBoundingClientRect(),
    b=document.getElementById('u'+j).getBoundingClientRect();
    const x1=a.left+a.width/2-r0.left,y1=a.top-r0.top,x2=b.left+b.width/2-r0.left,y2=b.top-r0.top;
    const h=Math.min(22,6+Math.abs(x2-x1)/10)+Math.abs(y2-y1)/4,p=document.createElementNS(NS,'path');
    p.setAttribute('d',`M${x1},${y1} Q${(x1+x2)/2},${Math.min(y1,y2)-h} ${x2},${y2}`);
    p.setAttribute('stroke',v>=0?'#1a8a2a':'#c03030');p.setAttribute('stroke-width',(1.2+3.5*w).toFixed(2));
    p.dataset.units=JSON.stringify([i,j]);const t=document.createElementNS(NS,'title');
    t.textContent=(v>=0?'+':'')+v.toFixed(3);p.appendChild(t);hover(p);svg.appendChild(p);});}
arcs();window.addEventListener('resize',arcs);
document.querySelectorAll('.pairs .pair').forEach(hover);
const rows=document.querySelectorAll('tr.inter'),table=document.getElementById('interactions');
rows.forEach(r=>{hover(r);r.addEventListener('click',()=>{r.dataset.pinned=r.dataset.pinned?'':'1';
  show(r,!!r.dataset.pinned)});});
const more=document.getElementById('more');
function expand(open){table.classList.toggle('collapsed',!open);
  if(more)more.textContent=open?'show fewer':more.dataset.label;}
if(more)more.addEventListener('click',()=>expand(table.classList.contains('collapsed')));
const pin=location.hash.match(/pin=(\d+)/);  // report.html#pin=0 opens with row 0 pinned
if(pin&&rows[+pin[1]]){if(rows[+pin[1]].dataset.more)expand(true);rows[+pin[1]].click();}
if(/more/.test(location.hash))expand(true);  // report.html#more opens with every row shown
"""
