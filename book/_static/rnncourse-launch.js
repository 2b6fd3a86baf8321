// Launch and download links that land on notebooks (issue 29), loaded on every page through
// `html_js_files` in _config.yml.
//
// - Colab opens only notebooks, and the chapters are MyST Markdown (.md). The book's publish
//   workflow (.github/workflows/book.yml) writes each chapter as a notebook, at the same path
//   with .ipynb, to the branch NOTEBOOKS_BRANCH; the theme's Colab link names the .md on the
//   book's branch, and is pointed here at that notebook instead. Links to a .ipynb (the
//   assignments) are left as they are: that file is in the repository.
// - The download menu's .ipynb and source items download their file (the `download`
//   attribute) instead of opening it in a new tab.
// The functions on URLs are pure: tests/test_launch_buttons.py runs them with node on the
// links of the built pages.
(function () {
  "use strict";

  var NOTEBOOKS_BRANCH = "notebooks";
  // https://colab.research.google.com/github/<org>/<repo>/blob/<branch>/<path>.md
  var COLAB_MARKDOWN =
    /^(https:\/\/colab\.research\.google\.com\/github\/[^/?#]+\/[^/?#]+\/blob\/)[^/?#]+\/([^?#]+)\.md$/;

  /** The Colab link to the notebook of a chapter, given the theme's link to its .md. */
  function colabNotebookUrl(href) {
    var match = COLAB_MARKDOWN.exec(href);
    return match ? match[1] + NOTEBOOKS_BRANCH + "/" + match[2] + ".ipynb" : href;
  }

  /** The file name a download link saves as: the last segment of its path. */
  function downloadName(href) {
    return decodeURIComponent(href.split(/[?#]/)[0].split("/").pop());
  }

  /** Points the Colab links at notebooks and makes the download items download. */
  function fixLinks(doc) {
    doc.querySelectorAll('a[href^="https://colab.research.google.com/github/"]')
      .forEach(function (link) {
        link.setAttribute("href", colabNotebookUrl(link.getAttribute("href")));
      });
    doc.querySelectorAll("a.btn-download-notebook-button, a.btn-download-source-button")
      .forEach(function (link) {
        link.setAttribute("download", downloadName(link.getAttribute("href")));
        link.removeAttribute("target");
      });
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = { NOTEBOOKS_BRANCH: NOTEBOOKS_BRANCH, colabNotebookUrl: colabNotebookUrl,
                       downloadName: downloadName, fixLinks: fixLinks };
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { fixLinks(document); });
  } else {
    fixLinks(document);
  }
})();
