// Starts GraphiQL on Trouw's page (api/core/graphiql.py), which puts its settings in the
// JSON block #trouw-graphiql: the endpoint, the first operation and the headers to start with.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("trouw-graphiql").textContent);
  var fetcher = GraphiQL.createFetcher({ url: settings.url });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: settings.query,
      defaultHeaders: settings.headers,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
