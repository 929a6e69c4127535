## القنوات ووسائل الدفع
channel-portal = البوابة الوطنية
channel-mobile = تطبيقات الأجهزة الذكية
channel-kiosk = منصات الخدمة الذاتية
channel-counter = مكاتب الخدمة
channel-import = الأنظمة السابقة
method-debit = بطاقة الخصم
method-credit = بطاقة الائتمان
method-wallet = المحفظة الإلكترونية
method-cash = نقداً

## الأشهر
month-1 = يناير
month-2 = فبراير
month-3 = مارس
month-4 = أبريل
month-5 = مايو
month-6 = يونيو
month-7 = يوليو
month-8 = أغسطس
month-9 = سبتمبر
month-10 = أكتوبر
month-11 = نوفمبر
month-12 = ديسمبر
period-range = الفترة من { $from } حتى { $to } { $year }
period-range-years = الفترة من { $from } { $fromYear } حتى { $to } { $toYear }

## التقارير
report-title = التحصيل في { $period } مقارنة بـ { $compare }
report-net = (بعد خصم المبالغ المستردة)
col-group = البند
col-amount = المبلغ (د.ب)
col-count = المعاملات
col-compare-amount = الفترة السابقة (د.ب)
col-compare-count = معاملات الفترة السابقة
col-growth = نمو القيمة
col-multiple = أضعاف المعاملات
report-total = المجموع
growth-none = غير متاح

## البيان نصف السنوي
statement-lead = تجاوزت قيمة المدفوعات المالية المحصلة عبر قنوات الدفع الإلكترونية في { $period } { $millions } مليون دينار بحريني، بارتفاع نسبته { $growth }% مقارنة بذات الأشهر من عام { $compareYear }، دفعها المستفيدون عبر { $count } معاملة تمت من خلال البوابة الوطنية وتطبيقات الأجهزة الذكية ومنصات الخدمة الذاتية.
statement-services = وكان أكبر ارتفاع في استخدام { $services }.
statement-service-item = خدمة ({ $name }) { $multiple ->
    [two] بنحو الضعفين
    [few] بنحو { $multiple } أضعاف
   *[other] بنحو { $multiple } ضعفاً
}
statement-channel = وتضاعف عدد المعاملات عبر { $channel } { $multiple ->
    [two] مرتين
    [few] { $multiple } مرات
   *[other] { $multiple } مرة
} مقارنة بالفترة ذاتها من العام الماضي.
statement-list-and = { $first }، و{ $second }

## الرسوم البيانية
chart-thousands-bhd = بآلاف الدنانير
