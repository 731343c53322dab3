/* Config in the admin (orgs/admin.py ConfigForm): of the five value inputs, show the one for the chosen
   config type (text, integer, checkbox, JSON, secret picker); switch when the type changes. Without
   script every input shows, each labelled with its type; the server reads only the chosen one. */
"use strict";
(function () {
    function rows() {
        return document.querySelectorAll(".form-row[class*='field-value_']");
    }

    function show(type) {
        rows().forEach(function (row) {
            row.hidden = !row.classList.contains("field-value_" + type);
        });
    }

    document.addEventListener("DOMContentLoaded", function () {
        const select = document.querySelector("select[data-config-type]");
        if (!select) {
            return;
        }
        show(select.value);
        select.addEventListener("change", function () {
            show(select.value);
        });
    });
})();
