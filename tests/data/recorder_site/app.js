fetch("data.json?item=1&kind=a%20b").then(r => r.json()).then(d => {
  document.getElementById("out").textContent = d.name;
  return fetch("api/cart", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
                            body: "item=1&note=<fast & \"cheap\">"});
}).then(r => r.text()).then(t => { document.getElementById("out").textContent += " " + t.trim(); });
