// The print button of the booking list: shown only when this script runs, so a browser
// without JavaScript shows no button that does nothing (its own menu prints the page).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-button");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
});
