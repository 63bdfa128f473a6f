"""The web side: the JSON API, the dashboard and the App's manifest set-up."""
