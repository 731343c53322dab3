/* Bifrost form page: renders a form from its schema, evaluates visible_if with json-logic-js
 * (the same rules the server applies), loads data-provider options, uploads files, validates
 * like the server (forms_app/submission.py) and submits with the session + CSRF token. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("form-config").textContent);
  var formEl = document.getElementById("bifrost-form");
  var fieldsEl = document.getElementById("form-fields");
  var errorEl = document.getElementById("form-error");
  var submitEl = document.getElementById("form-submit");
  var REQUIRED = "This field is required.";
  var EMAIL_RE = /^[^@\s]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
  var DISPLAY = { markdown: true, html: true };
  var state = { query: config.query || {}, workflow: {}, controls: {}, pendingUploads: 0 };

  function csrfToken() {
    var input = formEl.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function headers(json) {
    var h = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
    if (json) h["Content-Type"] = "application/json";
    if (config.organization_id) h["X-Organization-Id"] = config.organization_id;
    return h;
  }

  function post(path, body) {
    var isForm = body instanceof FormData;
    return fetch(config.api_base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: headers(!isForm),
      body: isForm ? body : JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (attrs[key] !== undefined && attrs[key] !== null && attrs[key] !== false) node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- values and visibility ---------------------------------------------------------------

  function values() {
    var out = {};
    config.fields.forEach(function (field) {
      var control = state.controls[field.name];
      if (control && control.get) out[field.name] = control.get();
    });
    return out;
  }

  function logicData() {
    return { field: values(), query: state.query, workflow: state.workflow || {} };
  }

  function isVisible(field, data) {
    if (!field.visible_if || (typeof field.visible_if === "object" && !Object.keys(field.visible_if).length)) return true;
    try {
      return jsonLogic.truthy(jsonLogic.apply(field.visible_if, data));
    } catch (e) {
      return true; // same as the server: a rule that fails leaves the field visible
    }
  }

  function refreshVisibility() {
    var data = logicData();
    config.fields.forEach(function (field) {
      var control = state.controls[field.name];
      if (control) control.wrapper.hidden = !isVisible(field, data);
    });
  }

  // --- building fields ---------------------------------------------------------------------

  /* "Run again" (?rerun=<execution id>, checked by the server): the values this browser submitted for that
   * run if it kept them (form-only fields included), else the run's parameters from the server. */
  function rerunValues() {
    if (!config.rerun_of) return {};
    try {
      var kept = window.sessionStorage.getItem("bifrost-run:" + config.rerun_of);
      if (kept) return JSON.parse(kept) || {};
    } catch (e) { /* storage unavailable */ }
    return config.prefill || {};
  }
  var prefill = rerunValues();

  function rememberValues(executionId, formData) {
    if (!executionId) return;
    var kept = {};
    config.fields.forEach(function (field) {
      if (field.type !== "file" && !DISPLAY[field.type] && Object.prototype.hasOwnProperty.call(formData, field.name)) {
        kept[field.name] = formData[field.name];
      }
    });
    try { window.sessionStorage.setItem("bifrost-run:" + executionId, JSON.stringify(kept)); } catch (e) { /* full */ }
  }

  function initialValue(field) {
    if (field.type !== "file" && Object.prototype.hasOwnProperty.call(prefill, field.name)) return prefill[field.name];
    if (field.allow_as_query_param && Object.prototype.hasOwnProperty.call(state.query, field.name)) {
      return state.query[field.name];
    }
    return field.default_value;
  }

  function optionsOf(field) {
    return field.data_provider ? [] : (field.options || []);
  }

  function buildField(field) {
    var id = "field-" + field.name;
    var wrapper = el("div", { "class": "field field-" + field.type, "data-field": field.name });
    var control = { field: field, wrapper: wrapper };
    var initial = initialValue(field);

    if (DISPLAY[field.type]) {
      wrapper.classList.add("display");
      var content = el("div", { "class": "content" });
      content.innerHTML = field.rendered || ""; // sanitised on the server (nh3)
      wrapper.appendChild(content);
      state.controls[field.name] = control;
      return wrapper;
    }

    var label = el(field.type === "radio" || field.type === "checkbox" ? "div" : "label",
      { "for": field.type === "radio" || field.type === "checkbox" ? null : id, "class": "label", id: "label-" + field.name },
      field.label || field.name);
    if (field.required) label.appendChild(el("span", { "class": "required", "aria-hidden": "true" }, "*"));
    if (field.type !== "checkbox") wrapper.appendChild(label);

    var input;
    switch (field.type) {
      case "textarea":
        input = el("textarea", { id: id, name: field.name, placeholder: field.placeholder });
        input.value = initial == null ? "" : String(initial);
        control.get = function () { return input.value; };
        break;
      case "checkbox":
        var box = el("label", { "class": "choice" });
        input = el("input", { type: "checkbox", id: id, name: field.name });
        input.checked = initial === true || initial === "true" || initial === "on" || initial === "1";
        box.appendChild(input);
        box.appendChild(document.createTextNode(field.label || field.name));
        if (field.required) box.appendChild(el("span", { "class": "required" }, "*"));
        wrapper.appendChild(box);
        control.get = function () { return input.checked; };
        break;
      case "select":
      case "multi_select":
        input = el("select", { id: id, name: field.name, multiple: field.type === "multi_select" ? "multiple" : null });
        control.setOptions = function (options) {
          var keep = control.get ? control.get() : initial;
          if (!control.touched && (keep === "" || (Array.isArray(keep) && !keep.length))) keep = initial;
          input.innerHTML = "";
          if (field.type === "select") input.appendChild(el("option", { value: "" }, field.placeholder || "Choose…"));
          control.values = {};
          options.forEach(function (option, index) {
            var key = String(index);
            control.values[key] = option.value;
            var node = el("option", { value: key }, option.label);
            var wanted = Array.isArray(keep) ? keep : [keep];
            if (wanted.some(function (w) { return w !== undefined && w !== null && String(w) === String(option.value); })) {
              node.selected = true;
            }
            input.appendChild(node);
          });
        };
        control.get = function () {
          var chosen = Array.prototype.filter.call(input.options, function (o) { return o.selected && o.value !== ""; })
            .map(function (o) { return control.values[o.value]; });
          return field.type === "multi_select" ? chosen : (chosen.length ? chosen[0] : "");
        };
        control.setOptions(optionsOf(field));
        break;
      case "radio":
        input = el("div", { "class": "choices", role: "radiogroup", "aria-labelledby": "label-" + field.name });
        control.setOptions = function (options) {
          var keep = control.get ? control.get() : initial;
          if (!control.touched && keep === "") keep = initial;
          input.innerHTML = "";
          control.values = {};
          options.forEach(function (option, index) {
            var key = String(index);
            control.values[key] = option.value;
            var row = el("label", { "class": "choice" });
            var radio = el("input", { type: "radio", name: field.name, value: key });
            if (keep !== undefined && keep !== null && String(keep) === String(option.value)) radio.checked = true;
            row.appendChild(radio);
            row.appendChild(document.createTextNode(option.label));
            input.appendChild(row);
          });
        };
        control.get = function () {
          var checked = input.querySelector("input:checked");
          return checked ? control.values[checked.value] : "";
        };
        control.setOptions(optionsOf(field));
        break;
      case "file":
        input = el("input", { type: "file", id: id, name: field.name, multiple: field.multiple ? "multiple" : null,
          accept: (field.allowed_types || []).join(",") || null });
        var list = el("div", { "class": "files" });
        control.uploads = [];
        control.get = function () { return control.uploads.map(function (u) { return u.id; }); };
        input.addEventListener("change", function () { uploadFiles(control, input, list); });
        wrapper.appendChild(input);
        wrapper.appendChild(list);
        break;
      default:
        var types = { email: "email", number: "number", date: "date", datetime: "datetime-local", text: "text" };
        input = el("input", { type: types[field.type] || "text", id: id, name: field.name, placeholder: field.placeholder,
          step: field.type === "number" ? "any" : null });
        input.value = initial == null ? "" : String(initial);
        control.get = function () {
          if (field.type === "number") return input.value === "" ? "" : Number(input.value);
          return input.value;
        };
    }
    if (field.type !== "checkbox" && field.type !== "file") wrapper.appendChild(input);
    if (field.help_text) wrapper.appendChild(el("div", { "class": "help", id: "help-" + field.name }, field.help_text));
    control.errorEl = el("div", { "class": "error", role: "alert", id: "error-" + field.name });
    // screen readers read the help text and the error with the control
    input.setAttribute("aria-describedby", (field.help_text ? "help-" + field.name + " " : "") + "error-" + field.name);
    if (field.required) input.setAttribute("aria-required", "true");
    wrapper.appendChild(control.errorEl);
    control.input = input;
    input.addEventListener("change", function () { control.touched = true; onChange(field.name); });
    input.addEventListener("input", function () { control.touched = true; onChange(field.name); });
    state.controls[field.name] = control;
    return wrapper;
  }

  // --- data providers ----------------------------------------------------------------------

  function referencedFields(node, into) {
    if (Array.isArray(node)) { node.forEach(function (n) { referencedFields(n, into); }); return into; }
    if (node && typeof node === "object") {
      Object.keys(node).forEach(function (op) {
        var args = node[op];
        if (op === "var") {
          var name = Array.isArray(args) ? args[0] : args;
          if (typeof name === "string" && name.indexOf("field.") === 0) into[name.split(".")[1]] = true;
        }
        referencedFields(args, into);
      });
    }
    return into;
  }

  function providerDependencies(field) {
    var deps = {};
    Object.keys(field.data_provider_inputs || {}).forEach(function (param) {
      var spec = field.data_provider_inputs[param] || {};
      if (spec.mode === "field_ref" && spec.field) deps[spec.field] = true;
      if (spec.mode === "expression") referencedFields(spec.expression, deps);
    });
    return deps;
  }

  function loadOptions(field) {
    var control = state.controls[field.name];
    var ticket = (control.ticket || 0) + 1;
    control.ticket = ticket;
    control.wrapper.classList.add("loading");
    return post("/data-providers/" + encodeURIComponent(field.data_provider), {
      field: field.name, form_data: values(), query: state.query, workflow: state.workflow
    }).then(function (response) {
      if (control.ticket !== ticket) return; // a newer request superseded this one
      control.wrapper.classList.remove("loading");
      if (response.status === 200) {
        control.setOptions(response.data.options || []);
        control.errorEl.textContent = "";
      } else {
        control.errorEl.textContent = (response.data && response.data.message) || "Could not load the options.";
      }
      refreshVisibility();
    });
  }

  var debounce = {};
  function onChange(name) {
    clearError(name);
    refreshVisibility();
    config.fields.forEach(function (field) {
      if (field.data_provider && field.name !== name && providerDependencies(field)[name]) {
        clearTimeout(debounce[field.name]);
        debounce[field.name] = setTimeout(function () { loadOptions(field); }, 250);
      }
    });
  }

  // --- uploads ----------------------------------------------------------------------------

  function uploadFiles(control, input, list) {
    var field = control.field;
    control.uploads = [];
    list.textContent = "";
    var files = Array.prototype.slice.call(input.files || []);
    var maxBytes = (field.max_size_mb || 10) * 1024 * 1024;
    var uploads = files.map(function (file) {
      if (file.size > maxBytes) {
        control.errorEl.textContent = "The file is larger than " + (field.max_size_mb || 10) + " MB.";
        return Promise.resolve();
      }
      var body = new FormData();
      body.append("field", field.name);
      body.append("file", file);
      state.pendingUploads += 1;
      return post("/uploads", body).then(function (response) {
        state.pendingUploads -= 1;
        if (response.status === 201) {
          control.uploads.push(response.data);
          list.appendChild(el("div", {}, "✓ " + response.data.name));
        } else {
          var details = (response.data && response.data.details) || {};
          control.errorEl.textContent = (details.file || details.field || [response.data.message || "Upload failed."])[0];
        }
      });
    });
    return Promise.all(uploads).then(function () { onChange(field.name); });
  }

  // --- validation (mirrors forms_app/submission.py) -----------------------------------------

  function missing(value) {
    return value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length);
  }

  function bounds(value, rules, unit) {
    var suffix = unit ? " " + unit : "";
    if (rules.min !== undefined && rules.min !== null && value < rules.min) return rules.message || ("Must be at least " + rules.min + suffix + ".");
    if (rules.max !== undefined && rules.max !== null && value > rules.max) return rules.message || ("Must be at most " + rules.max + suffix + ".");
    return null;
  }

  function validate(field, value) {
    var rules = field.validation || {};
    if (field.type === "checkbox") return field.required && value !== true ? REQUIRED : null;
    if (missing(value)) return field.required ? REQUIRED : null;
    if (field.type === "text" || field.type === "textarea" || field.type === "email") {
      var text = String(value);
      if (field.type === "email" && !EMAIL_RE.test(text.trim())) return "Enter a valid email address.";
      if (rules.pattern) {
        var full;
        try { full = new RegExp("^(?:" + rules.pattern + ")$"); } catch (e) { full = null; }
        if (full && !full.test(text)) return rules.message || "Enter a value in the expected format.";
      }
      return bounds(text.length, rules, "characters");
    }
    if (field.type === "number") {
      if (typeof value !== "number" || !isFinite(value)) return "Enter a number.";
      return bounds(value, rules, null);
    }
    if (field.type === "multi_select") return bounds(value.length, rules, "choices");
    if (field.type === "file" && !field.multiple && value.length > 1) return "Only one file is allowed.";
    return null;
  }

  function clearError(name) {
    var control = state.controls[name];
    if (control && control.errorEl) {
      control.errorEl.textContent = "";
      control.wrapper.classList.remove("invalid");
      if (control.input) control.input.removeAttribute("aria-invalid");
    }
  }

  function showError(name, message) {
    var control = state.controls[name];
    if (control && control.errorEl) {
      control.errorEl.textContent = message;
      control.wrapper.classList.add("invalid");
      if (control.input && control.input.setAttribute) control.input.setAttribute("aria-invalid", "true");
      return true;
    }
    return false;
  }

  function showFormError(message) {
    errorEl.textContent = message;
    errorEl.hidden = !message;
  }

  // --- submit and result -------------------------------------------------------------------

  function showResult(data) {
    var section = document.getElementById("form-result");
    var status = document.getElementById("result-status");
    var body = document.getElementById("result-body");
    section.hidden = false;
    status.textContent = (config.status_labels || {})[data.status] || data.status || "";
    status.className = "status " + (data.status || "");
    body.innerHTML = "";
    var result = data.result;
    if (data.result_type === "html" && typeof result === "string") {
      var frame = el("iframe", { sandbox: "", title: "Result" }); // no scripts, no same-origin
      frame.srcdoc = result;
      body.appendChild(frame);
    } else if (typeof result === "string") {
      body.appendChild(el("pre", {}, result));
    } else if (result !== undefined && result !== null) {
      body.appendChild(el("pre", { id: "result-json" }, JSON.stringify(result, null, 2)));
    }
    // the run-response body (executions.presenters): error_message on Failed/Timeout/Cancelled runs
    if (data.error_message) {
      body.appendChild(el("p", { id: "result-error", "class": "error" }, data.error_message));
    } else if ((result === undefined || result === null) && data.message) {
      body.appendChild(el("p", {}, data.message));
    }
    var link = document.getElementById("result-execution");
    var again = document.getElementById("result-run-again");
    if (data.execution_id && !config.public) {
      link.href = config.execution_url.replace("{id}", data.execution_id);
      link.hidden = false;
      again.href = config.form_url + "?rerun=" + encodeURIComponent(data.execution_id);
      again.hidden = false;
    }
    section.scrollIntoView({ behavior: "smooth" });
    section.focus({ preventScroll: true });
  }

  formEl.addEventListener("submit", function (event) {
    event.preventDefault();
    showFormError("");
    if (state.pendingUploads > 0) { showFormError("Please wait for the uploads to finish."); return; }
    var data = logicData();
    var firstBad = null;
    config.fields.forEach(function (field) {
      if (DISPLAY[field.type]) return;
      clearError(field.name);
      if (!isVisible(field, data)) return;
      var message = validate(field, data.field[field.name]);
      if (message) { showError(field.name, message); firstBad = firstBad || field.name; }
    });
    if (firstBad) {
      var bad = state.controls[firstBad].input;
      if (bad && bad.focus) bad.focus();
      showFormError("Please correct the highlighted fields.");
      return;
    }
    submitEl.disabled = true;
    post("/submit", { form_data: data.field, query: state.query, workflow: state.workflow }).then(function (response) {
      submitEl.disabled = false;
      if ((response.status === 200 || response.status === 202) && response.data.execution_id) {
        rememberValues(response.data.execution_id, data.field);
      }
      if (response.status === 202 && response.data.execution_id) {
        window.location.assign(config.execution_url.replace("{id}", response.data.execution_id));
        return;
      }
      if (response.status === 200) { showResult(response.data); return; }
      var details = (response.data && response.data.details) || {};
      var perField = details.form_data && typeof details.form_data === "object" && !Array.isArray(details.form_data)
        ? details.form_data : details;
      var placed = false;
      Object.keys(perField).forEach(function (name) {
        var messages = perField[name];
        if (showError(name, Array.isArray(messages) ? messages[0] : String(messages))) placed = true;
      });
      showFormError(placed ? "Please correct the highlighted fields." : ((response.data && response.data.message) || "The form could not be submitted."));
    }).catch(function () {
      submitEl.disabled = false;
      showFormError("The server could not be reached. Try again.");
    });
  });

  // --- start -------------------------------------------------------------------------------

  function render() {
    fieldsEl.innerHTML = "";
    config.fields.forEach(function (field) { fieldsEl.appendChild(buildField(field)); });
    refreshVisibility();
    config.fields.forEach(function (field) { if (field.data_provider) loadOptions(field); });
  }

  var startup = config.has_launch_workflow
    ? post("/startup", { query: state.query }).then(function (response) {
        if (response.status === 200) {
          state.workflow = (response.data && response.data.result) || {};
        } else {
          showFormError((response.data && response.data.message) || "The form could not be prepared.");
        }
      })
    : Promise.resolve();
  startup.then(render);
})();
