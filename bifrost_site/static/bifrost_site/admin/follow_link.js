/* Open the page's `a[data-follow]` at once (the admin's OAuth Connect goes on to the provider). */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
    const link = document.querySelector("a[data-follow]");
    if (link) {
        window.location.assign(link.href);
    }
});
