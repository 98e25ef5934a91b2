/** Tailwind for sTask's manager pages: `make assets` compiles assets/src/stask.css into
 * assets/dist/stask.css (committed, so sites need no build step). */
module.exports = {
  content: ['./views/**/*.blade.php', './assets/js/**/*.js', './php/**/*.php'],
  // Built from the status / log level at runtime (Blade and stask.js), so never seen in content.
  safelist: ['pending', 'preparing', 'running', 'completed', 'cancelled', 'failed'].map((s) => 'st-status-' + s)
    .concat(['info', 'warning', 'error'].map((l) => 'st-log-' + l)),
  darkMode: 'media',
  theme: {
    extend: {
      fontFamily: { sans: ['system-ui', '-apple-system', 'Segoe UI', 'Roboto', 'sans-serif'] },
    },
  },
  plugins: [],
};
