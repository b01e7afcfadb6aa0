DROP TABLE stock_schedule;
DROP TABLE stock_refreshes;
DROP TABLE stock_prices;
DROP TABLE stock_alerts;
DROP TABLE stock_watches;
