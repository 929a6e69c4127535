## Channels and methods
channel-portal = National portal
channel-mobile = Smart-device apps
channel-kiosk = Self-service kiosks
channel-counter = Service counters
channel-import = Earlier systems
method-debit = Debit card
method-credit = Credit card
method-wallet = Wallet
method-cash = Cash

## Months
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
period-range = { $from }–{ $to } { $year }
period-range-years = { $from } { $fromYear } – { $to } { $toYear }

## Reports
report-title = Collections, { $period }, compared with { $compare }
report-net = (net of refunds)
col-group = Group
col-amount = Amount (BHD)
col-count = Transactions
col-compare-amount = Earlier (BHD)
col-compare-count = Earlier transactions
col-growth = Value growth
col-multiple = Transactions ×
report-total = Total
growth-none = n/a

## The half-year statement
statement-lead = Electronic payments collected through Tahseel's channels in { $period } reached BHD { $millions } million, { $growth }% more than in the same months of { $compareYear }, paid in { $count } transactions through the national portal, smart-device apps and self-service kiosks.
statement-services = Use grew most for { $services }.
statement-service-item = { $name } ({ $multiple ->
    [2] about twice
   *[other] about { $multiple } times
})
statement-channel = { $channel } carried { $multiple ->
    [2] twice
   *[other] { $multiple } times
} as many transactions as a year earlier.
statement-list-and = { $first } and { $second }

## Charts
chart-thousands-bhd = Thousands of BHD
