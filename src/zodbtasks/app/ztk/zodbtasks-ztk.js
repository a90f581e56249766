/* The Rotterdam ZMI's behaviour that its templates wire with inline
   handlers, which the server's Content-Security-Policy does not run:
   the navigation tree (xmltree.js), the "select all" box of a container's
   contents and the focus of its rename field.  Served by zodbtasks-server
   as ++resource++zodbtasks-ztk.js; see zodbtasks/app/ztk/. */
(function () {
    'use strict';

    function startNavigationTree() {
        var script = document.getElementById('zodbtasks-ztk');
        var tree = document.getElementById('navtreecontents');
        if (!script || !tree || typeof window.loadtree !== 'function') {
            return;
        }
        tree.addEventListener('click', function (event) {
            window.treeclicked(event);
        });
        window.loadtree(script.getAttribute('data-root-url'),
                        script.getAttribute('data-base-url'));
    }

    var SELECT_ALL = /^updateCheckboxes\(this,\s*'([^']*)'\);?$/;

    function wireSelectAllBoxes() {
        var boxes = document.querySelectorAll('input[onchange]');
        Array.prototype.forEach.call(boxes, function (box) {
            var match = SELECT_ALL.exec(box.getAttribute('onchange'));
            if (match && typeof window.updateCheckboxes === 'function') {
                box.addEventListener('change', function () {
                    window.updateCheckboxes(box, match[1]);
                });
            }
        });
    }

    function focusRenameField() {
        var form = document.forms.containerContentsForm;
        if (form && form.new_value) {
            form.new_value.focus();
        }
    }

    document.addEventListener('DOMContentLoaded', function () {
        startNavigationTree();
        wireSelectAllBoxes();
        focusRenameField();
    });
}());
