/* /forms/: filter the listed forms as the user types (every word must match name, description or category). */
(function () {
  "use strict";

  var input = document.getElementById("form-search");
  if (!input) return;
  var count = document.getElementById("form-search-count");
  var empty = document.getElementById("form-search-empty");
  var groups = document.querySelectorAll(".form-group");

  function apply() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    Array.prototype.forEach.call(groups, function (group) {
      var inGroup = 0;
      Array.prototype.forEach.call(group.querySelectorAll("li[data-search]"), function (item) {
        var text = item.getAttribute("data-search");
        var match = words.every(function (word) { return text.indexOf(word) !== -1; });
        item.hidden = !match;
        if (match) inGroup += 1;
      });
      group.hidden = inGroup === 0;
      shown += inGroup;
    });
    count.textContent = shown + (shown === 1 ? " form" : " forms");
    empty.hidden = shown !== 0;
  }

  input.addEventListener("input", apply);
  if (input.value) apply();
})();
