/* The form admin's schema editor (forms_app/admin.py FormAdmin): checks the schema as you type with the
   API's validator (errors listed by path), shows a live preview of the unsaved form beside it, and
   "Start from the workflow's parameters" fills a skeleton. Talks to the staff-only endpoints named in
   the textarea's data-*-url attributes. */
"use strict";
(function () {
    const DELAY_MS = 300;

    function csrfToken() {
        const input = document.querySelector("input[name=csrfmiddlewaretoken]");
        return input ? input.value : "";
    }

    function parse(text, fallback) {
        if (!text.trim()) {
            return {ok: true, value: fallback};
        }
        try {
            return {ok: true, value: JSON.parse(text)};
        } catch (error) {
            return {ok: false, error: error.message};
        }
    }

    function value(id) {
        const element = document.getElementById(id);
        return element ? element.value : "";
    }

    function post(url, body) {
        return fetch(url, {
            method: "POST",
            credentials: "same-origin",
            headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
            body: JSON.stringify(body),
        });
    }

    function element(tag, attributes, text) {
        const node = document.createElement(tag);
        Object.entries(attributes || {}).forEach(function ([key, val]) {
            node.setAttribute(key, val);
        });
        if (text) {
            node.textContent = text;
        }
        return node;
    }

    document.addEventListener("DOMContentLoaded", function () {
        const editor = document.getElementById("id_schema");
        if (!editor || !editor.dataset.validateUrl) {
            return;
        }
        // The editor and the preview side by side; the errors and the skeleton button under the editor.
        const bench = element("div", {"class": "bifrost-schema-bench"});
        const left = element("div", {"class": "bifrost-schema-editor"});
        const preview = element("section", {"class": "bifrost-schema-preview", "aria-label": "Preview of the unsaved form"});
        const previewTitle = element("h3", {}, "Preview");
        const previewBody = element("div", {"id": "bifrost-schema-preview", "aria-live": "polite"});
        const status = element("div", {"id": "bifrost-schema-status", "class": "bifrost-schema-status", "role": "status"});
        const skeleton = element("button", {"type": "button", "class": "button", "id": "bifrost-schema-skeleton"},
            "Start from the workflow's parameters");
        editor.parentNode.insertBefore(bench, editor);
        left.appendChild(editor);
        left.appendChild(skeleton);
        left.appendChild(status);
        preview.appendChild(previewTitle);
        preview.appendChild(previewBody);
        bench.appendChild(left);
        bench.appendChild(preview);

        function showErrors(errors) {
            status.replaceChildren();
            const paths = Object.keys(errors);
            status.className = "bifrost-schema-status " + (paths.length ? "invalid" : "valid");
            if (!paths.length) {
                status.textContent = "The schema is valid.";
                return;
            }
            const list = element("ul", {"class": "errorlist"});
            paths.forEach(function (path) {
                errors[path].forEach(function (message) {
                    list.appendChild(element("li", {}, path + ": " + message));
                });
            });
            status.appendChild(list);
        }

        let timer = null;
        let sequence = 0;

        function check() {
            const mine = ++sequence;
            const schema = parse(editor.value, null);
            if (!schema.ok) {
                showErrors({schema: ["Not valid JSON: " + schema.error]});
                return;
            }
            const launchParams = parse(value("id_default_launch_params"), {});
            const queryParams = parse(value("id_allowed_query_params"), []);
            post(editor.dataset.validateUrl, {
                schema: schema.value,
                workflow: value("id_workflow"),
                launch_workflow: value("id_launch_workflow"),
                default_launch_params: launchParams.ok ? launchParams.value : "not JSON",
                allowed_query_params: queryParams.ok ? queryParams.value : "not JSON",
            }).then(function (response) {
                return response.json();
            }).then(function (body) {
                if (mine === sequence) {
                    showErrors(body.errors || {});
                }
            });
            post(editor.dataset.previewUrl, {schema: schema.value}).then(function (response) {
                return response.text();
            }).then(function (html) {
                if (mine === sequence) {
                    // Server-rendered by the admin from escaped template output (display fields sanitised).
                    previewBody.innerHTML = html;
                }
            });
        }

        function later() {
            clearTimeout(timer);
            timer = setTimeout(check, DELAY_MS);
        }

        editor.addEventListener("input", later);
        ["id_workflow", "id_launch_workflow", "id_default_launch_params", "id_allowed_query_params"].forEach(function (id) {
            const field = document.getElementById(id);
            if (field) {
                field.addEventListener("change", later);
                field.addEventListener("input", later);
            }
        });

        skeleton.addEventListener("click", function () {
            const workflow = value("id_workflow");
            if (!workflow) {
                showErrors({workflow: ["Choose a workflow first."]});
                return;
            }
            if (editor.value.trim() && !window.confirm("Replace the schema with one made from the workflow's parameters?")) {
                return;
            }
            fetch(editor.dataset.skeletonUrl + "?workflow=" + encodeURIComponent(workflow), {credentials: "same-origin"})
                .then(function (response) {
                    return response.json();
                }).then(function (body) {
                    if (body.schema) {
                        editor.value = JSON.stringify(body.schema, null, 2);
                        check();
                    } else {
                        showErrors({workflow: [body.error || "No parameters found."]});
                    }
                });
        });

        check();
    });
})();
