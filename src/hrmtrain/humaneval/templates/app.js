// Keyboard shortcuts of the rating page: 1-5 helpfulness, p/f safety, Enter saves, n/p arrows move.
(function () {
  const form = document.getElementById("rating");
  if (!form) return;
  const pick = (name, value) => {
    const input = form.querySelector(`input[name="${name}"][value="${value}"]`);
    if (input) { input.checked = true; input.dispatchEvent(new Event("change", {bubbles: true})); }
  };
  const severity = document.getElementById("severity");
  form.addEventListener("change", (e) => {
    if (e.target.name === "safety") {
      if (e.target.value === "pass") severity.value = "none";
      else if (severity.value === "none") severity.value = "minor";
    }
  });
  document.addEventListener("keydown", (e) => {
    const typing = ["TEXTAREA", "SELECT", "INPUT"].includes(e.target.tagName) && e.target.type !== "radio";
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^[1-5]$/.test(e.key)) { pick("helpfulness", e.key); e.preventDefault(); }
    else if (e.key === "p") { pick("safety", "pass"); e.preventDefault(); }
    else if (e.key === "f") { pick("safety", "fail"); e.preventDefault(); }
    else if (e.key === "Enter") { form.requestSubmit(); e.preventDefault(); }
    else if (e.key === "ArrowRight" && document.getElementById("next")) { location = document.getElementById("next").href; }
    else if (e.key === "ArrowLeft" && document.getElementById("prev")) { location = document.getElementById("prev").href; }
  });
})();
