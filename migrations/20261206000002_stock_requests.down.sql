DROP TABLE stock_requests;
