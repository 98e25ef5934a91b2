/** Tailwind for sTask's manager pages: `make assets` compiles assets/src/stask.css into
 * assets/dist/stask.css (committed, so sites need no build step). */
module.exports = {
  content: ['./views/**/*.blade.php', './assets/js/**/*.js', './php/**/*.php'],
  darkMode: 'media',
  theme: {
    extend: {
      fontFamily: { sans: ['system-ui', '-apple-system', 'Segoe UI', 'Roboto', 'sans-serif'] },
    },
  },
  plugins: [],
};
